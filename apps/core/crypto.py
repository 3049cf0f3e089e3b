"""Secrets at rest: Fernet with a key from MP_SECRETS_KEY, or a 0600 key file the embedded default creates."""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"


@functools.lru_cache(maxsize=1)
def _fernet() -> Fernet:
    key = settings.SECRETS_KEY
    if not key:
        path = Path(settings.SECRETS_KEY_FILE)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            logger.warning("created a new secrets key file path=%s (set MP_SECRETS_KEY in production)", path)
        key = path.read_text().strip()
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("MP_SECRETS_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from exc


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("a stored secret cannot be decrypted with the configured secrets key") from exc
