"""The consent domain's errors, each carrying the HTTP status and OBIE error code it maps to.

The consent package imports nothing of the gateway (docs/architecture.md section 2), so it cannot raise
``gateway.errors``; the gateway renders these to ``OBErrorResponse1`` (OBIE R/W API v3.1.11, "Error Response
Structure") in one place from ``status_code``, ``ob_code``, ``message`` and ``path``.

Codes follow docs/obie-notes.md section 6: unknown resource ids are 400 ``UK.OBIE.Resource.NotFound``; a consent in the wrong
status for an action is 400 ``UK.OBIE.Resource.InvalidConsentStatus``; resource-access refusals (another TPP's
consent, permission not granted, account outside the consent) are 403, for which v3.1.11 defines no dedicated
code, so they carry the closest namespaced one.
"""

from __future__ import annotations

from typing import ClassVar


class ConsentError(Exception):
    """Root of every consent-domain refusal. Unmapped errors render as 500 (fail closed)."""

    status_code: ClassVar[int] = 500
    ob_code: ClassVar[str] = "UK.OBIE.UnexpectedError"

    def __init__(self, message: str = "", *, path: str | None = None, detail: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        # ``message`` is shown to the TPP or customer; ``detail`` is for logs only.
        self.message = message or self.__class__.__name__
        self.path = path
        self.detail = detail


class ConsentNotFound(ConsentError):
    """Unknown or deleted consent: 400, not 404 (R/W API "HTTP Status Codes": unknown resource id; GET after DELETE)."""

    status_code = 400
    ob_code = "UK.OBIE.Resource.NotFound"


class InvalidConsentStatus(ConsentError):
    """The consent's status does not allow the action (e.g. authorising a Rejected consent)."""

    status_code = 400
    ob_code = "UK.OBIE.Resource.InvalidConsentStatus"


class InvalidPermissions(ConsentError):
    """The requested permission set breaks an AIS rule (AISP profile "Permissions")."""

    status_code = 400
    ob_code = "UK.OBIE.Field.Invalid"

    def __init__(self, message: str = "", *, path: str | None = "Data.Permissions", detail: str | None = None):
        super().__init__(message, path=path, detail=detail)


class InvalidConsentRequest(ConsentError):
    """A field of the consent request has an invalid value."""

    status_code = 400
    ob_code = "UK.OBIE.Field.Invalid"


class MissingConsentField(ConsentError):
    status_code = 400
    ob_code = "UK.OBIE.Field.Missing"


class InvalidConsentDate(ConsentError):
    """Bad or out-of-range date-time (R/W API "Date Formats")."""

    status_code = 400
    ob_code = "UK.OBIE.Field.InvalidDate"


class InvalidIdempotencyKey(ConsentError):
    """``x-idempotency-key`` missing, longer than 40 characters or with surrounding white space."""

    status_code = 400
    ob_code = "UK.OBIE.Header.Invalid"

    def __init__(self, message: str = "", *, path: str | None = "x-idempotency-key", detail: str | None = None):
        super().__init__(message, path=path, detail=detail)


class IdempotencyConflict(ConsentError):
    """Same idempotency key within 24 h with a different body: the resource is not modified.

    The spec names no code (docs/obie-notes.md section 5, ``x-idempotency-key``). The v3.1.11 documents declare no 409 on
    these POSTs, so the refusal is a 400 naming the header: the TPP reused a key for another request.
    """

    status_code = 400
    ob_code = "UK.OBIE.Header.Invalid"

    def __init__(self, message: str = "", *, path: str | None = "x-idempotency-key", detail: str | None = None):
        super().__init__(message, path=path, detail=detail)


class InvalidAccountSelection(ConsentError):
    """The customer picked no account, or an account that is not theirs to share."""

    status_code = 400
    ob_code = "UK.OBIE.Field.Invalid"


class ConsentForbidden(ConsentError):
    """Another client's (or another customer's) consent: 403 (R/W API "403 (Forbidden)")."""

    status_code = 403
    ob_code = "UK.OBIE.Resource.NotFound"


class ConsentInactive(ConsentError):
    """The consent is not Authorised, so it grants no access."""

    status_code = 403
    ob_code = "UK.OBIE.Resource.InvalidConsentStatus"


class ConsentExpired(ConsentInactive):
    """ExpirationDateTime has passed (AISP profile "Expiration Date Time")."""


class PermissionNotGranted(ConsentError):
    """The consent's permissions do not cover the operation: 403 (R/W API "403 (Forbidden)")."""

    status_code = 403
    ob_code = "UK.OBIE.Resource.InvalidConsentStatus"


class AccountNotConsented(ConsentError):
    """The path's AccountId is not among the consented accounts: 403 (FCS accepts 400 or 403)."""

    status_code = 403
    ob_code = "UK.OBIE.Resource.NotFound"

    def __init__(self, message: str = "", *, path: str | None = "AccountId", detail: str | None = None):
        super().__init__(message, path=path, detail=detail)


class MalformedBody(ConsentError):
    """The body is not UTF-8 JSON of the expected shape (R/W API "400 Bad Request": payload does not parse)."""

    status_code = 400
    ob_code = "UK.OBIE.Resource.InvalidFormat"


class MissingHeader(ConsentError):
    """A header the endpoint requires is absent; ``path`` is the header name (R/W API "Request Headers")."""

    status_code = 400
    ob_code = "UK.OBIE.Header.Missing"


class UnsupportedScheme(ConsentError):
    """An account ``SchemeName`` outside OBExternalAccountIdentification4Code (namespaced enumerations)."""

    status_code = 400
    ob_code = "UK.OBIE.Unsupported.Scheme"
