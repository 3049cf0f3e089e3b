"""Where the agent logs in to vCenter, and the TLS pinning that makes a self-signed vCenter safe.

`VCenterEndpoint` parses the operator's "host[:port][/sdk]" and carries the credentials;
`PinnedTLSContext` trusts exactly one certificate, named by its SHA-1/256/512 thumbprint.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Self


def normalize_thumbprint(thumbprint: str) -> str:
    """Lower-case hex without separators; SHA-1, SHA-256 or SHA-512 length."""
    text = thumbprint.replace(":", "").replace(" ", "").lower()
    if len(text) not in _PIN_HASHES or any(ch not in "0123456789abcdef" for ch in text):
        raise ValueError("thumbprint must be a SHA-1, SHA-256 or SHA-512 hex digest")
    return text


_PIN_HASHES = {40: "sha1", 64: "sha256", 128: "sha512"}


class ThumbprintMismatch(ssl.SSLError):
    def __init__(self, actual: str):
        super().__init__("server certificate does not match the pinned thumbprint")
        self.actual = actual


class PinnedTLSContext(ssl.SSLContext):
    """A TLS client context that trusts exactly one certificate, named by its thumbprint.

    Every new connection is checked (pyvmomi's own pinning checks only the first one and then
    leaves its shared context unverified), so a self-signed vCenter or vcsim is safe to use.
    """

    def __new__(cls, thumbprint: str) -> Self:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, thumbprint: str):
        self.pin = normalize_thumbprint(thumbprint)
        self.check_hostname = False
        self.verify_mode = ssl.CERT_NONE

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        tls = super().wrap_socket(*args, **kwargs)
        der = tls.getpeercert(binary_form=True) or b""
        actual = hashlib.new(_PIN_HASHES[len(self.pin)], der).hexdigest()
        if not hmac.compare_digest(actual, self.pin):
            tls.close()
            raise ThumbprintMismatch(":".join(actual[i:i + 2] for i in range(0, len(actual), 2)).upper())
        return tls


@dataclass(frozen=True)
class VCenterEndpoint:
    """Where and how to log in. `password` never appears in repr or logs."""

    host: str
    username: str
    password: str = field(repr=False)
    port: int = 443
    path: str = "/sdk"
    thumbprint: str = ""
    ca_file: str = ""
    timeout: float = 30.0

    @classmethod
    def parse(cls, vcenter: str, username: str, password: str, *, thumbprint: str = "",
              ca_file: str = "", timeout: float = 30.0) -> VCenterEndpoint:
        """Accepts "host", "host:port" or "https://host:port/sdk"."""
        text = vcenter.strip()
        if not text:
            raise ValueError("vcenter must not be empty")
        if "://" not in text:
            text = "https://" + text
        parsed = urllib.parse.urlsplit(text)
        if parsed.scheme != "https":
            raise ValueError("vcenter must be reached over https")
        if not parsed.hostname:
            raise ValueError(f"vcenter {vcenter!r} has no host name")
        try:
            port = parsed.port or 443
        except ValueError as exc:
            raise ValueError(f"vcenter {vcenter!r} has an invalid port") from exc
        if thumbprint:
            normalize_thumbprint(thumbprint)
        return cls(host=parsed.hostname, port=port, path=parsed.path or "/sdk",
                   username=username, password=password, thumbprint=thumbprint,
                   ca_file=ca_file, timeout=timeout)

    @property
    def display(self) -> str:
        return self.host if self.port == 443 else f"{self.host}:{self.port}"


def pinned_certificate_pem(endpoint: VCenterEndpoint) -> str:
    """The certificate the endpoint presents, PEM, after checking it against the pinned
    thumbprint: handed to a TLS client that cannot pin by thumbprint (curl) as its only trust anchor."""
    context = PinnedTLSContext(endpoint.thumbprint)
    with socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout) as sock:
        with context.wrap_socket(sock, server_hostname=endpoint.host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
    return ssl.DER_cert_to_PEM_cert(der)
