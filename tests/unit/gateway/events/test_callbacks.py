"""The SSRF guard on TPP callback URLs (gateway.events.callbacks): production refuses plain HTTP and every
non-public address, before and after DNS resolution; the sandbox allows a receiver on 127.0.0.1 but never
link-local (cloud metadata) addresses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gateway.events.callbacks import CallbackRefused
from gateway.events.callbacks import check_target
from gateway.events.callbacks import check_url
from gateway.events.callbacks import notification_url


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize("url", [
    "http://tpp.example.com/cb",  # plain HTTP
    "https://127.0.0.1/cb", "https://10.1.2.3/cb", "https://192.168.0.1/cb", "https://172.16.0.1/cb",
    "https://169.254.169.254/latest", "https://[::1]/cb", "https://[fe80::1]/cb", "https://[fc00::1]/cb",
    "https://[::ffff:127.0.0.1]/cb", "https://0.0.0.0/cb", "https://100.64.0.1/cb",
    "https://user:pw@tpp.example.com/cb", "https://tpp.example.com/cb?x=1", "ftp://tpp.example.com/cb",
    "https:///cb",
])
def test_production_refuses_the_url(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_url(url, production=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1", "fd00::5"])
async def test_production_refuses_a_name_resolving_to_a_private_address(address: str) -> None:
    with pytest.raises(CallbackRefused, match="resolves to"):
        await check_target("https://tpp.example.com/cb", production=True, resolver=resolving_to("8.8.8.8", address))


async def test_production_refuses_a_name_that_does_not_resolve() -> None:
    async def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    with pytest.raises(CallbackRefused, match="does not resolve"):
        await check_target("https://tpp.example.com/cb", production=True, resolver=fail)


async def test_production_allows_a_public_https_callback() -> None:
    await check_target("https://tpp.example.com/cb", production=True, resolver=resolving_to("93.184.216.34"))


async def test_the_sandbox_allows_a_local_receiver_but_not_link_local() -> None:
    await check_target("http://127.0.0.1:9000/cb", production=False, resolver=resolving_to("127.0.0.1"))
    with pytest.raises(CallbackRefused):
        check_url("http://169.254.169.254/latest", production=False)
    with pytest.raises(CallbackRefused):
        await check_target("http://metadata.example/cb", production=False, resolver=resolving_to("169.254.169.254"))


def test_the_notification_goes_to_the_event_notifications_resource() -> None:
    assert notification_url("https://tpp.example.com/cb/") == "https://tpp.example.com/cb/event-notifications"


async def test_the_push_goes_to_the_address_that_was_checked_not_a_later_answer() -> None:
    # DNS rebinding: a name that answers a public address for the check and a private one afterwards. The push
    # is pinned to the checked address, so the name is resolved once and its later answer is never used.
    answers = iter([["93.184.216.34"], ["169.254.169.254"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    target = await check_target("https://tpp.example.com:8443/cb", production=True, resolver=rebinding)
    assert asked == ["tpp.example.com"]
    assert target.url == "https://93.184.216.34:8443/cb"
    # The TPP's name still travels as Host and as the TLS server name the certificate is checked against.
    assert (target.host_header, target.server_name) == ("tpp.example.com:8443", "tpp.example.com")


async def test_an_ipv6_address_is_pinned_in_brackets_and_plain_http_has_no_server_name() -> None:
    target = await check_target("http://[::1]:9000/cb", production=False, resolver=resolving_to("::1"))
    assert (target.url, target.host_header, target.server_name) == ("http://[::1]:9000/cb", "[::1]:9000", None)
