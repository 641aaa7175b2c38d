"""The request-body step of the Events API: ``gateway.pipeline.steps.json_body`` for a document whose request
bodies are declared only as ``application/json; charset=utf-8`` (events-openapi.yaml declares no plain
``application/json``, which the shared step's validator asks for). Parsing and the OBIE rendering of schema
violations are the shared ones (``gateway.pipeline.body_schema.refusal``).
"""

from __future__ import annotations

from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_core.validation.request.validators import V30RequestBodyValidator

from gateway import errors
from gateway.pipeline.body_schema import _BodyRequest
from gateway.pipeline.body_schema import refusal
from gateway.pipeline.payment_checks import parse_json
from gateway.pipeline.steps import Call
from gateway.pipeline.steps import Step
from gateway.services import Services

MEDIA_TYPE = "application/json; charset=utf-8"


def json_body(services: Services, *, api: str) -> Step[Call]:
    validator = V30RequestBodyValidator(services.specs[api].spec)  # prepared once (hot-path rule)
    issuer = services.settings.issuer

    async def step(call: Call) -> None:
        call.raw = await call.request.body()
        body = parse_json(call.raw)
        probe = _BodyRequest(host_url=issuer, path=call.policy.path, method=call.policy.method.lower(),
                             body=call.raw, content_type=MEDIA_TYPE)
        try:
            validator.validate(probe)
        except InvalidRequestBody as exc:
            raise refusal(getattr(exc.__cause__, "schema_errors", ())) from None
        except Exception as exc:  # openapi-core raises several types for an unreadable body: all are 400
            raise errors.ResourceInvalidFormat("The body does not match the schema", detail=repr(exc)) from None
        call.body = body

    return step
