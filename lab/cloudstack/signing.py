"""CloudStack request signing, as the management server verifies it (ApiServer.verifyRequest)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

EXPIRES_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def java_url_encode(value: str) -> str:
    """URL-encode like java.net.URLEncoder followed by CloudStack's '+' -> '%20'.

    Java leaves only letters, digits and ``.-*_`` raw; Python's quote() also keeps ``~``,
    so it is encoded by hand to stay byte-for-byte with the server.
    """
    return quote(value, safe="*").replace("~", "%7E")


def string_to_sign(params: Mapping[str, str]) -> str:
    """Every parameter but ``signature`` (any case), sorted by name, values encoded, joined, lower-cased."""
    pairs = sorted((k, v) for k, v in params.items() if k.lower() != "signature")
    return "&".join(f"{k}={java_url_encode(v)}" for k, v in pairs).lower()


def sign(params: Mapping[str, str], secret_key: str) -> str:
    digest = hmac.new(secret_key.encode(), string_to_sign(params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_AUTH_NAMES = ("signature", "apikey", "signatureversion", "expires")


def auth_fields(params: Mapping[str, str]) -> dict[str, str]:
    """signature, apikey, signatureversion and expires, each found whatever its case.

    verifyRequest walks the parameter names sorted and compares each with equalsIgnoreCase, so
    `signatureversion=3` counts as much as `signatureVersion=3`; when two spellings are sent, the
    one sorting last wins, as its loop overwrites.
    """
    found: dict[str, str] = {}
    for name in sorted(params):
        if name.lower() in _AUTH_NAMES:
            found[name.lower()] = params[name]
    return found


def signature_matches(params: Mapping[str, str], secret_key: str) -> bool:
    given = auth_fields(params).get("signature", "")
    return hmac.compare_digest(given.encode(), sign(params, secret_key).encode())


def parse_expires(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, EXPIRES_FORMAT)
    except ValueError:
        return None
