"""Sending one webhook request, guarded against SSRF.

The destination host is resolved **once**; every address it resolves to must be public (not private,
loopback, link-local, multicast, reserved, unspecified, shared or IPv4-mapped versions of those)
unless ``WEBHOOK_ALLOW_PRIVATE_DESTINATIONS`` is on. The connection is then made to that checked
address (urllib3 pool on the IP), with the ``Host`` header and, for https, SNI and certificate
verification on the original host name: a DNS answer that changes between the check and the connect
(DNS rebinding) cannot redirect the request. Redirects are not followed. The whole exchange is bounded
by ``WEBHOOK_TIMEOUT_SECONDS`` (connect, send and read together) and the response is read only up
to an excerpt.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

from shared_apps.core.errors import DomainError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(DomainError):
    code = "webhook_destination_refused"
    status = 400


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass
class Result:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str = ""
    address: str = ""
    duration_ms: int = 0


def address_is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return address_is_public(mapped)
    return bool(
        address.is_global
        and not (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
    )


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL, or DestinationRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused("The URL is not valid.", code="invalid_url") from exc
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("The URL must start with http:// or https://.", code="invalid_url")
    if not parts.hostname:
        raise DestinationRefused("The URL has no host.", code="invalid_url")
    if parts.username or parts.password:
        raise DestinationRefused("The URL must not carry credentials.", code="invalid_url")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """Parse, resolve once, check every address; the first checked address is the one to connect to."""
    scheme, host, port, path = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"The host {host!r} cannot be resolved.", code="webhook_host_unresolvable") from exc
    addresses: list[Address] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        addresses.append(ipaddress.ip_address(text))
    if not addresses:
        raise DestinationRefused(f"The host {host!r} cannot be resolved.", code="webhook_host_unresolvable")
    if not settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS:
        for address in addresses:
            if not address_is_public(address):
                raise DestinationRefused(
                    "Webhook destinations must be public addresses "
                    f"({host!r} resolves to a private, loopback or link-local address)."
                )
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Result:
    """POST ``body`` to ``url`` under the guard. Never raises for network trouble: the result says."""
    started = time.monotonic()
    budget = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    limit = int(settings.WEBHOOK_EXCERPT_BYTES)
    result = Result()
    try:
        target = resolve(url)
    except DestinationRefused as exc:
        result.error = exc.message[:300]
        return result
    result.address = target.address
    # ``total`` bounds connect + read together; the excerpt loop below also checks the wall clock.
    timeout = urllib3.Timeout(total=budget)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.WEBHOOK_CA_BUNDLE or certifi.where(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, maxsize=1, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": _host_header(target)},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            while size < limit:
                if time.monotonic() - started > budget:
                    raise TimeoutError
                chunk = response.read(min(1024, limit - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            result.status = response.status
            result.headers = {k: v[:200] for k, v in list(response.headers.items())[:30]}
            result.body = b"".join(chunks).decode("utf-8", "replace")
        finally:
            response.release_conn()
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        result.error = f"Timed out after {budget:g} s."
    except urllib3.exceptions.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        pool.close()
        result.duration_ms = int((time.monotonic() - started) * 1000)
    if result.status is not None and result.duration_ms > budget * 1000 and not result.error:
        result.error = f"Timed out after {budget:g} s."
        result.status = None
    return result
