"""Run web, worker and beat (and the lab peers, when asked) as one supervised group for `make run`.

A child that dies is started again after a backoff (1 s, doubling to 30 s, back to 1 s once a child has run for a
minute); the group stops only on Ctrl-C, SIGTERM or when the process that started it goes away. A worker started
again settles in-flight jobs with the agent at once (apps/replication/tasks.reconcile_in_flight).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.devlab.lab import Lab
from apps.replication import services as replication_services


def web_command(bind: str) -> list[str]:
    """gunicorn as `make run` starts it: two workers, which share the login throttle through the default cache."""
    return [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "config.wsgi", "--bind", bind,
            "--workers", "2", "--threads", "4", "--access-logfile", "-"]


BACKOFF_FIRST, BACKOFF_MAX, STABLE_AFTER = 1.0, 30.0, 60.0


class Supervisor:
    """Keeps each named child running: one that exits is started again after its backoff, the others go on."""

    def __init__(self, commands: dict[str, list[str]], *, env: dict[str, str], cwd, say: Callable[[str], None]):
        self.commands, self.env, self.cwd, self.say = commands, env, cwd, say
        self.procs: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.backoff = dict.fromkeys(commands, BACKOFF_FIRST)
        self.due: dict[str, float] = {}
        self.restarts = dict.fromkeys(commands, 0)

    def start(self) -> None:
        for name in self.commands:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(self.commands[name], env=self.env, cwd=self.cwd)
        self.started[name] = time.monotonic()

    def tick(self) -> None:
        """Notice children that died and start those whose backoff is over."""
        now = time.monotonic()
        for name, proc in self.procs.items():
            if name in self.due or proc.poll() is None:
                continue
            if now - self.started[name] >= STABLE_AFTER:
                self.backoff[name] = BACKOFF_FIRST
            delay = self.backoff[name]
            self.due[name] = now + delay
            self.backoff[name] = min(BACKOFF_MAX, delay * 2)
            self.say(f"{name} exited with {proc.returncode}; starting it again in {delay:g} s")
        for name, when in list(self.due.items()):
            if now >= when:
                del self.due[name]
                self.restarts[name] += 1
                self._spawn(name)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
        group = Supervisor(commands, env=env, cwd=settings.BASE_DIR, say=self.stderr.write)
        group.start()
        self.stdout.write(self.style.SUCCESS(f"console: http://{bind}/console/  API docs: http://{bind}/swagger/"))
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
                    break
                group.tick()
                time.sleep(0.5)
        finally:
            group.stop()
            if lab is not None:
                # Lab volumes live in the emulator's state dir; their exports end with the lab.
                replication_services.exports_stop_all()
                lab.stop()
