"""Set up and inspect the sshd that carries agent tunnels (docs/enrollment-tunnel.md)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ApplicationError
from apps.enrollment import conf, services, sshd
from apps.enrollment.choices import AuditAction


class Command(BaseCommand):
    help = ("Agent tunnel sshd: print its sshd_config, install the keys command, rewrite the authorized keys file "
            "from the database, or list live tunnel sessions.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        config = sub.add_parser("config", help="print the sshd_config of a dedicated tunnel sshd")
        config.add_argument("--listen", action="append", default=None, help="ListenAddress (repeatable; default 0.0.0.0)")
        config.add_argument("--host-key", action="append", default=None,
                            help="HostKey (repeatable; default /etc/ssh/ssh_host_ed25519_key)")
        config.add_argument("--pid-file", default="/run/mp-tunnel-sshd.pid")
        config.add_argument("--keys-command-user", default="mp-sshkeys",
                            help="AuthorizedKeysCommandUser: a dedicated account that only runs the keys command")
        install = sub.add_parser("install-keys-command", help="copy the keys command where sshd accepts it")
        install.add_argument("--dest", default=None, help="default: MP_SSH_KEYS_COMMAND")
        sub.add_parser("sync-keys", help="rewrite the authorized keys file from the approved agents")
        sub.add_parser("sessions", help="list live tunnel sessions")

    def handle(self, *args, action, **options):
        if action == "config":
            tunnel = conf.tunnel_conf()
            self.stdout.write(sshd.render_sshd_config(
                port=tunnel.ssh_port, listen_addresses=options["listen"] or ["0.0.0.0"],
                host_keys=options["host_key"] or ["/etc/ssh/ssh_host_ed25519_key"], pid_file=options["pid_file"],
                user=tunnel.ssh_user, keys_command=conf.keys_command_path(),
                keys_command_user=options["keys_command_user"], authorized_keys=str(conf.authorized_keys_path()),
                sessions_dir=str(conf.sessions_dir()), api_port=tunnel.api_port, nbd_ports=tunnel.nbd_ports,
                reverse_ports=tunnel.reverse_ports), ending="")
        elif action == "install-keys-command":
            destination = Path(options["dest"] or conf.keys_command_path())
            try:
                sshd.install_keys_command(destination)
            except OSError as exc:
                raise CommandError(f"cannot install the keys command at {destination}: {exc}") from exc
            self.stdout.write(f"installed {destination} (sshd wants it and its directories root-owned, not "
                              "group- or world-writable)")
        elif action == "sync-keys":
            try:
                count = services.authorized_keys_sync()
            except ApplicationError as exc:
                raise CommandError(f"{exc.message}: {exc.details}") from exc
            services.audit(AuditAction.KEYS_SYNC, success=True, actor=services.Actor(name="manage.py tunnel_sshd"),
                           message=f"Authorized keys file rewritten from the database with {count} key(s)")
            self.stdout.write(f"wrote {count} key(s) to {conf.authorized_keys_path()}")
        elif action == "sessions":
            sessions = sshd.list_sessions(conf.sessions_dir(), login_uid=services.tunnel_login_uid())
            for session in sessions:
                self.stdout.write(f"pid={session.pid} fingerprint={session.fingerprint} "
                                  f"authenticated={session.authenticated} started_at={session.started_at:.0f}")
            self.stdout.write(f"{len(sessions)} live session(s)")
