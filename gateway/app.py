"""The composition root: ``create_app(settings)`` wires storage, keys, the bank client and every route.

This is the only module that knows every part of the gateway.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from consent.pages.rendering import TEMPLATES_DIR
from gateway import errors
from gateway.backend.bank import Bank
from gateway.backend.bank_idp import BankIdentityProvider
from gateway.backend.upstream import Transport
from gateway.backend.upstream import Upstream
from gateway.contract.policies.loader import Policies
from gateway.contract.policies.loader import load_policies
from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.events.inspector import Inspector
from gateway.events.polling import EventPolling
from gateway.events.reconfirmation_job import ReconfirmationNotices
from gateway.events.status_watcher import PaymentStatusWatcher
from gateway.events.subscriptions import EventSubscriptions
from gateway.events.tokens import SetSigner
from gateway.events.worker import DeliveryWorker
from gateway.hosting import consent_routes
from gateway.hosting import customer_routes
from gateway.hosting import sandbox_controls
from gateway.hosting import sandbox_inspector
from gateway.hosting import tpp_event_log
from gateway.hosting import tpp_event_log_page
from gateway.hosting.body_limit import BodyLimitMiddleware
from gateway.hosting.health import Readiness
from gateway.hosting.health import healthz
from gateway.hosting.health import readyz
from gateway.hosting.interaction import InteractionIdMiddleware
from gateway.oauth import routes as oauth_routes
from gateway.observability import consent_changes
from gateway.observability import tracing
from gateway.observability.metrics import metrics_endpoint
from gateway.observability.middleware import ObservabilityMiddleware
from gateway.pipeline import ais
from gateway.pipeline import cbpii
from gateway.pipeline import pis
from gateway.pipeline import vrp_payments
from gateway.pipeline.routing import AIS_API
from gateway.security import jose
from gateway.security.client_keys import ClientKeyCache
from gateway.security.keys import KeyStore
from gateway.security.sign_in_throttle import SignInThrottle
from gateway.security.single_use import SingleUseStore
from gateway.security.single_use import create_single_use_store
from gateway.services import Services
from gateway.settings import Settings
from gateway.settings import SettingsError
from gateway.store.db import Database


@functools.lru_cache(maxsize=4)
def _contract(openapi_dir: Path, policies_dir: Path) -> tuple[OpenApiSpecs, Policies]:
    """Specs and policies are read-only data: loaded and validated once per process (about 1.5 s). The OBIE
    documents keep the operations routes.yaml declares (docs/architecture.md section 2, ``openapi/``)."""
    specs = load_specs(openapi_dir, declared=declared_operations(policies_dir))
    return specs, load_policies(policies_dir, specs=specs)


def create_app(
    settings: Settings,
    *,
    keys: KeyStore | None = None,
    bank_transport: Transport | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    single_use: SingleUseStore | None = None,
    span_exporter: Any | None = None,
    create_schema: bool = False,
    start_event_worker: bool = False,
    event_transport: httpx.AsyncBaseTransport | None = None,
    bank_idp_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build the gateway ASGI app. ``create_schema`` is for tests; real runs use ``obgw migrate``.
    ``bank_transport`` replaces the pooled HTTP transport to ``OBGW_SANDBOX_URL`` under the bank client, and
    ``http_transport`` the one that fetches TPP key sets (tests: the sandbox app in-process).
    ``span_exporter`` replaces the OTLP exporter of ``OBGW_OTEL_ENDPOINT`` (tests).
    ``start_event_worker``: run the event delivery worker in this process (``obgw up`` and ``obgw serve`` pass
    ``OBGW_EVENT_DELIVERY``); ``event_transport`` replaces the transport it pushes to TPP callbacks over;
    ``bank_idp_transport`` the one to the bank's identity provider (``OBGW_BANK_IDP_ISSUER``)."""
    settings.check_production()
    specs, policies = _contract(settings.openapi_dir.resolve(), settings.policies_dir.resolve())
    policies.fapi.check_settings(settings)
    keystore = keys or KeyStore.ensure(settings.keys_dir, sandbox=settings.is_sandbox)
    if settings.mode == "production" and keystore.sandbox:
        raise SettingsError("sandbox signing keys refused in production: run 'obgw keys rotate' with OBGW_MODE=production")
    policies.fapi.check_signing_key(alg=jose.alg_for(keystore.current))
    db = Database(settings.database_url)
    consent_changes.watch(db)
    http = httpx.AsyncClient(transport=http_transport, timeout=5.0)
    services = Services(
        settings=settings,
        db=db,
        keys=keystore,
        single_use=single_use or create_single_use_store(settings.redis_url, prefix=settings.redis_prefix),
        bank=Bank(transport=bank_transport or Upstream(base_url=settings.sandbox_url), issuer=settings.issuer,
                  keys=keystore),
        templates=Jinja2Templates(directory=str(TEMPLATES_DIR)),
        http=http,
        client_keys=ClientKeyCache(http=http),
        secret=settings.session_secret.encode() or secrets.token_bytes(32),
        specs=specs,
        policies=policies,
        sign_in_throttle=SignInThrottle.create(policy=policies.rate_limits, redis_url=settings.redis_url,
                                               prefix=settings.redis_prefix),
        bank_idp=BankIdentityProvider(settings=settings, transport=bank_idp_transport)
        if settings.uses_bank_idp else None,
    )
    readiness = Readiness(settings=settings, db=db, bank=services.bank)
    pipeline = ais.AisPipeline.build(services)
    payments = pis.PaymentsApi.build(services)
    funds = cbpii.FundsConfirmations(services=services, bank=payments.bank, limits=payments.limits)
    vrps = vrp_payments.VrpPaymentsApi.build(services, limits=payments.limits)
    # Event notifications (docs/architecture.md section 7).
    signer = SetSigner(issuer=settings.issuer, keys=keystore,
                       base_paths={name: api.base_path for name, api in specs.apis.items()})
    polling = EventPolling(services=services, limits=payments.limits, signer=signer)
    event_http = httpx.AsyncClient(transport=event_transport, timeout=settings.event_timeout_ms / 1000,
                                   follow_redirects=False)
    # The sandbox's own callback per TPP (section 7, "Sandbox inspector"); none in production.
    inspector = Inspector(issuer=settings.issuer, entries=settings.sandbox_inspector_entries) \
        if settings.is_sandbox else None
    worker = DeliveryWorker(db=db, signer=signer, settings=settings, http=event_http, inspector=inspector)
    subscriptions = EventSubscriptions(services=services, limits=payments.limits, inspector=inspector)
    # The periodic jobs of the same family (section 7): payment statuses from the bank, reconfirmation notices.
    jobs = (PaymentStatusWatcher(db=db, bank=services.bank, settings=settings),
            ReconfirmationNotices(db=db, settings=settings))

    middleware = [Middleware(InteractionIdMiddleware)]
    provider = None
    if settings.otel_endpoint or span_exporter is not None:
        # Inside the interaction-id middleware, so each span carries the id the response will.
        provider = tracing.tracer_provider(endpoint=settings.otel_endpoint, exporter=span_exporter)
        middleware.append(Middleware(tracing.instrument, provider=provider))
    middleware.append(Middleware(ObservabilityMiddleware))
    middleware.append(Middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                                 max_form_bytes=settings.max_form_bytes))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if create_schema:
            await db.create_all()
        delivery = asyncio.create_task(worker.run(), name="event-delivery") if start_event_worker else None
        running = [asyncio.create_task(job.run(), name=job.name) for job in jobs] if start_event_worker else []
        yield
        for job in jobs:
            job.stop()
        await asyncio.gather(*running)
        if delivery is not None:
            worker.stop()
            await delivery
        await event_http.aclose()
        # uvicorn returns from the lifespan only after in-flight requests finished: pools close last.
        await pipeline.close()
        await readiness.close()
        await services.bank.close()
        if services.bank_idp is not None:
            await services.bank_idp.close()
        await services.http.aclose()
        await services.single_use.close()
        await db.dispose()
        if provider is not None:
            provider.shutdown()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, name="healthz"),
            Route("/readyz", readyz, name="readyz"),
            Route("/metrics", metrics_endpoint, name="metrics"),
            *oauth_routes.routes(),
            *customer_routes.routes(services),
            *consent_routes.routes(services),
            # After the consent endpoints, which share the /open-banking/v3.1/aisp prefix; fallback last.
            *ais.routes(pipeline),
            # After the consent endpoints: /domestic-payment-consents/{ConsentId} is theirs.
            *payments.routes(),
            *vrps.routes(),
            *funds.routes(),
            *subscriptions.routes(),
            *polling.routes(),
            *tpp_event_log.routes(),
            *tpp_event_log_page.routes(settings),
            *sandbox_inspector.routes(settings, inspector),
            *sandbox_controls.routes(settings),
            *ais.fallback_routes(base=specs.apis[AIS_API].base_path),
        ],
        middleware=[*middleware, *sandbox_controls.middleware(settings)],
        exception_handlers=dict(errors.EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.readiness = readiness
    app.state.ais_pipeline = pipeline
    app.state.payments_api = payments
    app.state.event_worker = worker
    app.state.event_inspector = inspector
    app.state.event_jobs = jobs
    return app
