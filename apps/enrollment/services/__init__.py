"""Agent enrollment and appliance lifecycle writes.

Flow: an administrator creates a pairing code -> the agent enrolls with it and its SSH public key -> the agent
signs the challenge it was given (proof of key possession) -> an administrator approves (or rejects) -> the agent
fetches its result once: login credentials and tunnel settings. Approval authorizes the key in the tunnel sshd's
managed keys file with per-key restrictions; revocation removes it and ends the agent's live tunnel sessions.

Every step, successful or refused, leaves an audit event. A refused step creates nothing else.
"""
from __future__ import annotations

from .appliances import (
    Revocation,
    appliance_create,
    appliance_revoke,
    appliance_token_reset,
    appliances_mark_tunnel_seen,
    appliances_refresh_tunnel_seen,
    login_agent,
    new_agent_token,
)
from .common import Actor, Gone, audit
from .enrollment import (
                         enrollment_approve,
                         enrollment_reject,
                         enrollment_result,
                         enrollment_start,
                         enrollment_verify,
                         pairing_code_create,
)
from .tunnel import authorized_keys_sync, host_public_keys, tunnel_login_uid, tunnel_settings

__all__ = [
    "Actor", "Gone", "Revocation", "appliance_create", "appliance_revoke", "appliance_token_reset", "appliances_mark_tunnel_seen",
    "appliances_refresh_tunnel_seen", "audit",
    "authorized_keys_sync", "enrollment_approve", "enrollment_reject", "enrollment_result", "enrollment_start",
    "enrollment_verify", "host_public_keys", "login_agent", "new_agent_token", "pairing_code_create", "tunnel_login_uid",
    "tunnel_settings",
]
