"""VRP consent answers against the official document itself (vrp-openapi.yaml as vendored, not the derived
copy; docs/obie-notes-vrp-events.md section 4): create, read, delete and a refusal, each validated by
openapi-core, body and headers (``x-jws-signature`` and ``x-fapi-interaction-id`` included)."""

from __future__ import annotations

import functools

import httpx
from openapi_core import OpenAPI
from openapi_core.validation.response.validators import V30ResponseDataValidator
from openapi_core.validation.response.validators import V30ResponseValidator

from gateway.contract.specs import API_FILES
from gateway.contract.specs import read_yaml
from tests.contract.validate import OPENAPI_DIR
from tests.contract.validate import _probe
from tests.contract.validate import assert_conforms
from tests.helpers.oauth import db_fixture  # noqa: F401  (the db fixture)
from tests.integration.consent.conftest import PISP
from tests.integration.consent.conftest import Tpp
from tests.integration.consent.conftest import gateway_app  # noqa: F401  (the consent routes mounted)
from tests.integration.consent.conftest import obie_specs  # noqa: F401
from tests.integration.consent.conftest import other_tpp  # noqa: F401
from tests.integration.consent.conftest import tpp  # noqa: F401
from tests.integration.consent.conftest import vrp_body

VRP = f"{PISP}/domestic-vrp-consents"


@functools.cache
def _official() -> OpenAPI:
    return OpenAPI.from_dict(read_yaml(OPENAPI_DIR / API_FILES["vrp"]))


def _conforms_to_the_official_file(response: httpx.Response) -> None:
    assert_conforms(response)  # the document the gateway serves
    request, answer = _probe(response, "vrp")
    validator = V30ResponseValidator if response.content else V30ResponseDataValidator
    validator(_official().spec).validate(request, answer)  # type: ignore[arg-type]


async def test_create_read_delete_and_a_refusal_conform_to_the_official_document(tpp: Tpp) -> None:  # noqa: F811
    created = await tpp.create(VRP, vrp_body(), key="contract-1")
    assert created.status_code == 201, created.text
    _conforms_to_the_official_file(created)
    consent_id = created.json()["Data"]["ConsentId"]
    read = await tpp.call("GET", f"{VRP}/{consent_id}")
    assert read.status_code == 200
    _conforms_to_the_official_file(read)
    deleted = await tpp.call("DELETE", f"{VRP}/{consent_id}")
    assert deleted.status_code == 204
    _conforms_to_the_official_file(deleted)
    gone = await tpp.call("GET", f"{VRP}/{consent_id}")
    assert gone.status_code == 400
    _conforms_to_the_official_file(gone)
    body = vrp_body()
    body["Data"]["ControlParameters"]["MaximumIndividualAmount"]["Amount"] = "0"
    refused = await tpp.create(VRP, body, key="contract-2")
    assert refused.status_code == 400
    _conforms_to_the_official_file(refused)
