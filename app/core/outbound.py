"""Requests this platform sends to addresses someone else typed: a
supplier's API (``app.supply.connectors.http``), a docking partner's
callback URL (``app.supply.callbacks``).

Such an address must not turn the platform into a way into its own private
network (server-side request forgery). With ``OUTBOUND_PRIVATE_ALLOWED``
off (the default in production), the host is resolved once, every address
it resolves to must be public (``ipaddress.is_global``: no loopback,
private, link-local — cloud metadata —, shared, reserved or multicast
range), and the connection goes to the address that was checked, so a DNS
answer that changes between the check and the connection changes nothing.
TLS still verifies the certificate against the host name. Development and
tests (loopback upstreams) allow private addresses.

``localhost`` and its subdomains are this machine (RFC 6761), as browsers
treat them; the resolver here may not know ``*.localhost``, so they are
taken as 127.0.0.1 without asking it.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket

from flask import current_app


class BlockedAddress(OSError):
    """The host resolves to an address outbound requests may not reach."""


def private_allowed() -> bool:
    configured = current_app.config.get("OUTBOUND_PRIVATE_ALLOWED")
    if configured is None:
        return current_app.config.get("ENV") != "production"
    return bool(configured)


def is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def checked_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: the first it resolves to,
    once every one it resolves to is allowed. Raises ``BlockedAddress``
    (or ``OSError`` when it does not resolve)."""
    if is_local_name(host):
        addresses = ["127.0.0.1"]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"{host} does not resolve") from exc
        addresses = [info[4][0] for info in found]
    if not addresses:
        raise OSError(f"{host} does not resolve")
    if not private_allowed():
        for address in addresses:
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
                raise BlockedAddress(f"{host} resolves to a private address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port=None, *, address: str, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port=None, *, address: str, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def connection(
    scheme: str, host: str, port: int | None, timeout: float
) -> http.client.HTTPConnection:
    """An unopened connection to ``scheme://host:port`` whose ``connect``
    goes to the checked address (``checked_address``, called here: it may
    raise ``BlockedAddress`` / ``OSError``). The Host header and the TLS
    server name stay ``host``."""
    secure = scheme == "https"
    port = port or (443 if secure else 80)
    address = checked_address(host, port)
    cls = _PinnedHTTPS if secure else _PinnedHTTP
    return cls(host, port, address=address, timeout=timeout)
