"""`vma tunnel`: keep the agent's one SSH connection to the control plane up.

The data path is the OpenSSH client, supervised: disks cross this tunnel, and on an idle 2-core machine OpenSSH
with `aes128-gcm@openssh.com` moved NBD traffic at 0.55-0.62 GiB/s against 0.2-0.24 for paramiko, in another
process that leaves the Python copier's GIL alone (docs/enrollment-tunnel.md, bench/bench_tunnel.py). Python only
starts it, watches it, and restarts it with exponential backoff. One connection carries:

- local forwards to the control plane's loopback: its API (agent `localhost:8082`) and the NBD export ports,
- a reverse forward of the agent API, which the control plane reaches at `localhost:<reverse_port>` (9081 first).

Liveness: `ServerAliveInterval` makes ssh exit when the control plane stops answering, `ExitOnForwardFailure` makes
it exit when a forward cannot be set up; either way the supervisor reconnects. The host key is checked strictly
against the known_hosts file `vma enroll` pinned. `tunnel_status()` reports the state for the agent's health API.

The package: `settings` (what the tunnel is: ports, keys, the ssh command line), `supervisor` (keeping it up, its
status), `cli` (`vma tunnel`).
"""

from .cli import COMMAND, add_arguments, run
from .settings import (
    HOST_KEY_ALIAS,
    KEY_FILE,
    KNOWN_HOSTS_FILE,
    LOOPBACK,
    RESULT_FILE,
    STATUS_FILE,
    Forward,
    TunnelNotConfigured,
    TunnelSettings,
    settings_from_enrollment,
    ssh_command,
)
from .supervisor import TunnelSupervisor, probe_api, tunnel_status

register, main = COMMAND.register, COMMAND.main

__all__ = [
    "HOST_KEY_ALIAS", "KEY_FILE", "KNOWN_HOSTS_FILE", "LOOPBACK", "RESULT_FILE", "STATUS_FILE", "Forward",
    "TunnelNotConfigured", "TunnelSettings", "TunnelSupervisor", "add_arguments", "main", "probe_api", "register",
    "run", "settings_from_enrollment", "ssh_command", "tunnel_status",
]
