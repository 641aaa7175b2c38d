"""``gateway.errors.refusal_code``: the fixed code a refusal is counted under in ``obgw_pipeline_rejections_total``
(docs/production.md section 5), never anything the caller sent."""

from __future__ import annotations

from consent.errors import ConsentNotFound
from gateway import errors
from gateway.pipeline.tokens import obie_token_refusal


def test_an_obie_refusal_is_known_by_its_first_error_code() -> None:
    assert errors.refusal_code(errors.ResourceConsentMismatch("no")) == "UK.OBIE.Resource.ConsentMismatch"
    assert errors.refusal_code(errors.TooManyRequests("spent", retry_after=1, budget="consent")) == (
        "UK.OBGW.RateLimit.Consent"
    )


def test_an_oauth_refusal_and_a_consent_refusal_are_known_by_their_codes() -> None:
    assert errors.refusal_code(errors.InvalidDpopProof("bad proof")) == "invalid_dpop_proof"
    assert errors.refusal_code(ConsentNotFound("gone")) == ConsentNotFound.ob_code


def test_an_access_token_refusal_in_obie_form_keeps_its_oauth_code() -> None:
    assert errors.refusal_code(obie_token_refusal(errors.InvalidToken("expired"))) == "invalid_token"
    assert errors.refusal_code(obie_token_refusal(errors.InsufficientScope("no scope"))) == "insufficient_scope"


def test_a_refusal_without_a_body_is_known_by_its_status() -> None:
    assert errors.refusal_code(errors.UnsupportedMediaType("xml")) == "unsupported_media_type"
    assert errors.refusal_code(errors.NotAcceptable("xml")) == "not_acceptable"


def test_a_code_of_an_unexpected_shape_and_a_bug_are_reported_as_unexpected() -> None:
    odd = errors.ObError("odd", errors=[errors.ObErrorItem("<script>/accounts/123", "odd")], status_code=400)
    assert errors.refusal_code(odd) == "UK.OBIE.UnexpectedError"
    assert errors.refusal_code(KeyError("account")) == "UK.OBIE.UnexpectedError"
