"""Where the gateway may push an event: the TPP's ``CallbackUrl`` checked against server-side request forgery.

OBIE Event Notification API v3.1.11: the bank POSTs the token to ``{CallbackUrl}/event-notifications``
(docs/obie-notes-vrp-events.md section 3). The URL is the TPP's, so it is checked twice: when the subscription is
stored (scheme, credentials, a literal address) and before every push, after DNS resolution, against every
address the name resolves to (docs/architecture.md section 7). The push then goes to the address that was
checked (``PinnedTarget``: the URL names the address, ``Host`` and the TLS server name stay the TPP's, so the
certificate is still checked against its name): a name that resolves to a public address for the check and to a
private one a moment later (DNS rebinding) cannot steer the push.

Production: ``https`` only, and no loopback, private (RFC 1918, RFC 4193), link-local (RFC 3927, RFC 4291),
shared (RFC 6598), multicast, reserved or unspecified address. Sandbox: ``http`` is allowed and so are loopback
and private addresses (a developer's receiver on 127.0.0.1), but never link-local, multicast or unspecified
ones (cloud metadata services live at 169.254.169.254).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

NOTIFICATION_PATH: Final = "/event-notifications"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class CallbackRefused(ValueError):
    """The callback URL or an address it resolves to is not one the gateway may call."""


def notification_url(callback_url: str) -> str:
    return callback_url.rstrip("/") + NOTIFICATION_PATH


def _refused_address(address: IpAddress, *, production: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return "a link-local, multicast or unspecified address"
    if production and (address.is_loopback or address.is_private or address.is_reserved
                       or not address.is_global):
        return "a loopback, private or reserved address"
    return None


def check_url(url: str, *, production: bool) -> tuple[str, int]:
    """The static checks; returns the host and port to resolve. Raises ``CallbackRefused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"not a URL: {exc}") from None
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise CallbackRefused(f"the callback must be {' or '.join(allowed)}")
    if not parts.hostname:
        raise CallbackRefused("the callback has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("the callback must not carry credentials")
    if parts.query or parts.fragment:
        raise CallbackRefused("the callback must not carry a query or fragment")
    try:
        literal: IpAddress | None = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and (reason := _refused_address(literal, production=production)):
        raise CallbackRefused(f"the callback names {reason}")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, kw_only=True)
class PinnedTarget:
    """Where one push goes: ``url`` with the checked address for its host, and what the TPP's name still says."""

    url: str
    host_header: str
    server_name: str | None  # the TLS server name (https): the certificate is checked against it


async def check_target(url: str, *, production: bool, resolver: Resolver = system_resolver) -> PinnedTarget:
    """``check_url``, then every address the host resolves to; the push's target pinned to the first of them.
    Raises ``CallbackRefused``."""
    host, port = check_url(url, production=production)
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        raise CallbackRefused(f"the callback host does not resolve: {exc}") from None
    if not addresses:
        raise CallbackRefused("the callback host does not resolve")
    for text in addresses:
        reason = _refused_address(ipaddress.ip_address(text.split("%", 1)[0]), production=production)
        if reason:
            raise CallbackRefused(f"the callback host resolves to {reason} ({text})")
    parts = urlsplit(url)
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port is not None else literal
    return PinnedTarget(
        url=urlunsplit((parts.scheme, netloc, parts.path, "", "")),
        host_header=parts.netloc,
        server_name=host if parts.scheme == "https" else None,
    )
