"""Request body limits (gateway/hosting/body_limit.py) at the shipped defaults: 1 MiB for any body, 64 KiB for forms;
413 in the OBIE error form, refused before reading when announced, and reading stops at the limit when chunked."""

from __future__ import annotations

import json

from starlette.types import Message

from gateway.hosting.body_limit import BodyLimitMiddleware
from gateway.settings import Settings

DEFAULTS = Settings()


class Recorder:
    def __init__(self) -> None:
        self.app_called = False
        self.sent: list[Message] = []

    async def app(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.app_called = True
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> dict:  # type: ignore[type-arg]
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))  # type: ignore[no-any-return]


def scope(*headers: tuple[bytes, bytes]) -> dict:  # type: ignore[type-arg]
    return {"type": "http", "method": "POST", "path": "/open-banking/v3.1/pisp/domestic-payments",
            "headers": list(headers), "state": {}}


def middleware(recorder: Recorder) -> BodyLimitMiddleware:
    return BodyLimitMiddleware(recorder.app, max_body_bytes=DEFAULTS.max_body_bytes,
                               max_form_bytes=DEFAULTS.max_form_bytes)


def test_the_shipped_limits_are_one_mib_and_sixty_four_kib() -> None:
    assert (DEFAULTS.max_body_bytes, DEFAULTS.max_form_bytes) == (1024 * 1024, 64 * 1024)
    assert Settings.from_env({"OBGW_MAX_BODY_BYTES": "2048", "OBGW_MAX_FORM_BYTES": "512"}).max_form_bytes == 512


async def test_an_announced_twenty_megabyte_body_is_refused_before_the_app_reads_it() -> None:
    recorder = Recorder()
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    await middleware(recorder)(scope((b"content-length", str(20 * 1000 * 1000).encode()),
                                     (b"content-type", b"application/json")), receive, recorder.send)
    assert recorder.status == 413 and not recorder.app_called and reads == 0
    assert recorder.body["Code"] == "413 Payload Too Large"
    assert recorder.body["Errors"][0]["ErrorCode"] == "UK.OBIE.Field.Invalid"


async def test_a_chunked_two_mib_body_is_refused_and_reading_stops_at_the_limit() -> None:
    recorder = Recorder()
    chunk = 64 * 1024
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"[" * chunk, "more_body": reads < 32}

    await middleware(recorder)(scope((b"content-type", b"application/json"),
                                     (b"transfer-encoding", b"chunked")), receive, recorder.send)
    assert recorder.status == 413
    assert reads == DEFAULTS.max_body_bytes // chunk + 1  # the chunk that crossed the limit, no more


async def test_a_form_over_sixty_four_kib_is_refused() -> None:
    recorder = Recorder()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"a=" + b"b" * (70 * 1024), "more_body": False}

    await middleware(recorder)(scope((b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")),
                               receive, recorder.send)
    assert recorder.status == 413


async def test_a_body_within_the_limit_reaches_the_app() -> None:
    recorder = Recorder()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    await middleware(recorder)(scope((b"content-length", b"2"), (b"content-type", b"application/json")),
                               receive, recorder.send)
    assert recorder.status == 200 and recorder.app_called
