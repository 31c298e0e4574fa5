"""Which download URLs are allowed: http(s) only, and no loopback, link-local or private addresses by default.

A template URL is supplied by users, and the management server would fetch it from inside the
cloud's network: without this check ``registerTemplate`` could probe internal services (SSRF).
Every redirect hop is checked again. The name is resolved here and again when connecting, so a DNS
answer that changes in between (rebinding) is not caught; operators who need that guarantee put an
egress proxy in front.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from provisioner.exceptions import UnsafeUrlError

SCHEMES = ("http", "https")


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to (an IP literal resolves to itself).

    Raises:
        UnsafeUrlError: the name does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UnsafeUrlError(f"cannot resolve {host!r}: {error.strerror}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_url(
    url: str, *, allow_private: bool, allowed_networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()
) -> tuple[str, int]:
    """Check that a URL may be fetched and return its (host, port).

    Args:
        url: the URL, or a redirect target.
        allow_private: let loopback, link-local and private addresses through (tests, labs).
        allowed_networks: non-global networks let through even without ``allow_private``
            (an internal mirror, say).

    Raises:
        UnsafeUrlError: not http(s), no host, credentials in the URL, or a refused address.
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise UnsafeUrlError(f"URL {url!r}: only http and https downloads are supported")
    if not parts.hostname:
        raise UnsafeUrlError(f"URL {url!r} has no host")
    if parts.username or parts.password:
        raise UnsafeUrlError("credentials in a download URL are refused: they would end up in logs")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not allow_private:
        for address in resolve(parts.hostname, port):
            if not address.is_global and not any(address in network for network in allowed_networks):
                kind = (
                    "loopback"
                    if address.is_loopback
                    else "link-local"
                    if address.is_link_local
                    else "private or reserved"
                )
                raise UnsafeUrlError(
                    f"URL {url!r} resolves to {kind} address {address}, which is refused; "
                    "set allow_private to download from internal addresses"
                )
    return parts.hostname, port
