"""Pairing codes, key parsing and the proof-of-possession signature, on both sides of the wire."""
import base64

import paramiko
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from agent import enroll as agent_enroll
from apps.enrollment import keys
from apps.enrollment.keys_command import fingerprint as helper_fingerprint

from .conftest import new_key, public_line


def _openssh_public(private) -> str:
    return private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()


def test_pairing_codes_are_short_typable_and_forgiving():
    code = keys.new_pairing_code()
    assert len(code) == 9 and code[4] == "-"
    assert all(c in keys.CODE_ALPHABET for c in code.replace("-", ""))
    normalized = keys.normalize_pairing_code(code)
    assert keys.normalize_pairing_code(code.lower().replace("-", " ")) == normalized
    # Look-alikes a person may type for the digits the alphabet uses instead.
    assert keys.normalize_pairing_code("oooo-iiii") == "00001111"
    assert keys.normalize_pairing_code("ABCD-EFG") is None
    assert keys.normalize_pairing_code("ABCD-EFGU") is None  # U is not in Crockford's alphabet
    assert keys.normalize_pairing_code("") is None


def test_code_digest_is_keyed():
    assert keys.pairing_code_digest("ABCDEFGH", "k1") != keys.pairing_code_digest("ABCDEFGH", "k2")


def test_ed25519_and_ecdsa_keys_parse_with_openssh_fingerprints():
    key = new_key()
    parsed = keys.parse_public_key(public_line(key))
    assert parsed.key_type == "ssh-ed25519" and parsed.fingerprint == key.fingerprint
    assert parsed.fingerprint == helper_fingerprint(key.get_base64())
    ecdsa = keys.parse_public_key(_openssh_public(ec.generate_private_key(ec.SECP256R1())))
    assert ecdsa.key_type == "ecdsa-sha2-nistp256"


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("ssh-ed25519", "expected"),
    ("ssh-dss AAAAB3NzaC1kc3M=", "unsupported key type"),
    ("ssh-ed25519 not-base64!!", "base64"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "malformed"),
    ("ssh-ed25519 AAAA\nssh-ed25519 BBBB", "exactly one"),
])
def test_bad_public_keys_are_refused_with_a_reason(text, reason):
    with pytest.raises(keys.InvalidKey, match=reason):
        keys.parse_public_key(text)


def test_short_rsa_and_mislabelled_keys_are_refused():
    short = _openssh_public(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(keys.InvalidKey, match="3072"):
        keys.parse_public_key(short)
    blob = new_key().get_base64()
    with pytest.raises(keys.InvalidKey):
        keys.parse_public_key(f"ecdsa-sha2-nistp256 {blob}")


def test_signature_proves_possession_of_that_key_for_that_challenge():
    key, other = new_key(), new_key()
    public = keys.parse_public_key(public_line(key))
    message = keys.signing_message("enr-1", "challenge-1")
    good = base64.b64encode(key.sign_ssh_data(message).asbytes()).decode()
    assert keys.verify_signature(public, message, good)
    assert not keys.verify_signature(public, keys.signing_message("enr-1", "challenge-2"), good)
    assert not keys.verify_signature(public, keys.signing_message("enr-2", "challenge-1"), good)
    forged = base64.b64encode(other.sign_ssh_data(message).asbytes()).decode()
    assert not keys.verify_signature(public, message, forged)
    assert not keys.verify_signature(public, message, "not base64!")
    assert not keys.verify_signature(public, message, base64.b64encode(b"\x00\x00\x00\x01x").decode())


def test_rsa_proofs_must_use_sha2_signatures():
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pkey = paramiko.RSAKey(key=private)
    public = keys.parse_public_key(f"ssh-rsa {pkey.get_base64()}")
    message = keys.signing_message("enr-1", "c")
    sha256 = base64.b64encode(pkey.sign_ssh_data(message, algorithm="rsa-sha2-256").asbytes()).decode()
    # paramiko no longer makes SHA-1 signatures; build one the way old clients did.
    legacy = paramiko.Message()
    legacy.add_string("ssh-rsa")
    legacy.add_string(private.sign(message, padding.PKCS1v15(), hashes.SHA1()))
    sha1 = base64.b64encode(legacy.asbytes()).decode()
    assert keys.verify_signature(public, message, sha256)
    assert not keys.verify_signature(public, message, sha1)


def test_agent_signs_exactly_what_the_control_plane_checks():
    assert agent_enroll.signing_message("enr-x", "abc") == keys.signing_message("enr-x", "abc")
    key = new_key()
    signature = agent_enroll.sign_challenge(key, "enr-x", "abc")
    assert keys.verify_signature(keys.parse_public_key(public_line(key)), keys.signing_message("enr-x", "abc"),
                                 signature)
