"""A real SMTP server (aiosmtpd) on loopback for the notification tests, and the worker run in-process."""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: object  # email.message.EmailMessage


@dataclass
class SmtpRecorder:
    """Keeps every message the server accepted; ``refuse`` answers DATA with that reply instead (e.g. "451 ..."),
    the next ``refuse_times`` times (always when None)."""

    received: list[Received] = field(default_factory=list)
    refuse: str | None = None
    refuse_times: int | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse and (self.refuse_times is None or self.refuse_times > 0):
            if self.refuse_times is not None:
                self.refuse_times -= 1
            return self.refuse
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Auth:
    """Accepts one login (the test's), refuses any other; records what it was given."""

    def __init__(self, recorder: SmtpRecorder, username: str, password: str):
        self.recorder, self.username, self.password = recorder, username, password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.recorder.logins.append((login, password))
        ok = (login, password) == (self.username, self.password)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 on a refusal


@pytest.fixture
def smtp_server():
    """An SMTP server on 127.0.0.1 answering like a real one; ``.port``, ``.recorder``."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port(),
                            authenticator=_Auth(recorder, "mailer", "s3cret-smtp-pass"), auth_require_tls=False)
    controller.start()
    controller.recorder = recorder
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def eager_worker(settings):
    """The worker's tasks run in-process when a request's transaction commits. Retries run at once too: eager
    Celery re-applies a retried task only when it does not propagate the task's exceptions."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = False
    return settings
