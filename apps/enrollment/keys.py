"""Pairing codes and agent SSH keys: generate, normalise, parse, and check a proof of key possession.

Keys and signatures are handled by paramiko (the SSH wire formats) on top of ``cryptography``; nothing here
implements a cipher or a signature scheme.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import paramiko

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from a screen survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
_CODE_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})

# The agent builds the same bytes itself (agent/enroll.py): it never signs whatever a server sends, and the fixed
# prefix means the signature can never pass for an SSH authentication signature.
SIGNING_PREFIX = "mp-vma-enroll-v1"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")

MIN_RSA_BITS = 3072
# Key type -> signature algorithms accepted for it (no SHA-1 "ssh-rsa" signatures).
SIGNATURE_ALGORITHMS = {
    "ssh-ed25519": {"ssh-ed25519"},
    "ecdsa-sha2-nistp256": {"ecdsa-sha2-nistp256"},
    "ecdsa-sha2-nistp384": {"ecdsa-sha2-nistp384"},
    "ecdsa-sha2-nistp521": {"ecdsa-sha2-nistp521"},
    "ssh-rsa": {"rsa-sha2-256", "rsa-sha2-512"},
}
MAX_KEY_TEXT = 16 * 1024


class InvalidKey(ValueError):
    """The text is not an acceptable SSH public key; the message says why."""


def new_pairing_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_pairing_code(text: str) -> str | None:
    """The canonical form of what a person typed ("abcd efgh", "ABCD-EFGH"), or None if it cannot be a code."""
    cleaned = re.sub(r"[\s-]", "", text or "").upper().translate(_CODE_LOOKALIKES)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def pairing_code_digest(normalized: str, secret: str) -> str:
    # Keyed: 40 bits of code would fall to brute force if a plain hash of it leaked with the database.
    return hmac.new(secret.encode(), f"pairing-code:{normalized}".encode(), hashlib.sha256).hexdigest()


def valid_token_shape(value: str) -> bool:
    return bool(_TOKEN_SHAPE.match(value or ""))


def signing_message(enrollment_id: str, challenge: str) -> bytes:
    return f"{SIGNING_PREFIX}\n{enrollment_id}\n{challenge}\n".encode()


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob_b64: str
    fingerprint: str
    bits: int

    @property
    def openssh(self) -> str:
        return f"{self.key_type} {self.blob_b64}"

    def pkey(self) -> paramiko.PKey:
        return paramiko.PKey.from_type_string(self.key_type, base64.b64decode(self.blob_b64))


def parse_public_key(text: str) -> PublicKey:
    """Accept one OpenSSH public key line (``type base64 [comment]``): Ed25519, ECDSA, or RSA of 3072+ bits."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidKey("empty public key")
    if len(text) > MAX_KEY_TEXT:
        raise InvalidKey("public key text is too long")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise InvalidKey("give exactly one public key line")
    parts = lines[0].split()
    if len(parts) < 2:
        raise InvalidKey("expected '<type> <base64> [comment]'")
    key_type, blob_b64 = parts[0], parts[1]
    if key_type not in SIGNATURE_ALGORITHMS:
        raise InvalidKey(f"unsupported key type {key_type!r}: use one of {', '.join(sorted(SIGNATURE_ALGORITHMS))}")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKey("the key is not valid base64") from exc
    try:
        embedded = paramiko.Message(blob).get_text()
        pkey = paramiko.PKey.from_type_string(key_type, blob)
    except Exception as exc:  # paramiko raises many types on malformed key material
        raise InvalidKey(f"the {key_type} key material is malformed") from exc
    if embedded != key_type:
        raise InvalidKey(f"the key blob says {embedded!r} but the line says {key_type!r}")
    bits = pkey.get_bits()
    if key_type == "ssh-rsa" and bits < MIN_RSA_BITS:
        raise InvalidKey(f"RSA keys need at least {MIN_RSA_BITS} bits, this one has {bits}")
    return PublicKey(key_type=key_type, blob_b64=base64.b64encode(blob).decode(), fingerprint=pkey.fingerprint,
                     bits=bits)


def verify_signature(public_key: PublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is an SSH signature (paramiko's ``sign_ssh_data`` wire form) of ``message`` by
    the key, with a signature algorithm allowed for its type."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        algorithm = paramiko.Message(raw).get_text()
        if algorithm not in SIGNATURE_ALGORITHMS[public_key.key_type]:
            return False
        return bool(public_key.pkey().verify_ssh_sig(message, paramiko.Message(raw)))
    except Exception:  # any malformed signature is simply not a valid one
        return False
