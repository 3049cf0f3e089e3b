"""Run web, worker and beat (and the lab peers, when asked) as one supervised group for `make run`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.devlab.lab import Lab
from apps.replication import services as replication_services


def web_command(bind: str) -> list[str]:
    """gunicorn as `make run` starts it: two workers, which share the login throttle through the default cache."""
    return [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "config.wsgi", "--bind", bind,
            "--workers", "2", "--threads", "4", "--access-logfile", "-"]


class Command(BaseCommand):
    help = "Start gunicorn (web), a Celery worker and Celery beat on the configured settings; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("MP_BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-lab", action="store_true",
                            help="do not start the lab peers (vcsim, CloudStack emulator, agent)")

    def handle(self, *args, bind, no_lab, **options):
        call_command("collectstatic", "--noinput", verbosity=0)
        # The database cache's table, in case the database was migrated while CACHE_URL named another cache.
        call_command("createcachetable", verbosity=0)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
        lab = None
        if not no_lab:
            lab = Lab(settings.VAR_DIR / "lab", stdout=self.stdout, web_url=f"http://{bind}")
            env.update(lab.start())
        commands = {
            "web": web_command(bind),
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                       "--concurrency", "4", "-Q", "celery,replication,failover,scheduler"],
            "beat": [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                     "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
        }
        procs = {name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(f"console: http://{bind}/admin/  API docs: http://{bind}/swagger/"))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # `make run` killed with SIGTERM (a supervisor, `timeout`) does not pass the signal on: when the parent
        # is gone this process is re-parented, and stops the group rather than leave it running unattended.
        parent = os.getppid()
        try:
            while not stopping:
                if os.getppid() != parent:
                    self.stderr.write("the process that started the platform is gone; stopping")
                    stopping = True
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping the others")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if lab is not None:
                # Lab volumes live in the emulator's state dir; their exports end with the lab.
                replication_services.exports_stop_all()
                lab.stop()
