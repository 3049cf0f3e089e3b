"""The one client of the SMTP server: send a queued email, and record each attempt's outcome on its row."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from django.utils import timezone

from . import selectors
from .choices import NotificationStatus
from .models import Notification


def deliver(notification: Notification) -> None:
    """Send one email through the configured SMTP server; raises ``smtplib.SMTPException`` or ``OSError``."""
    config = selectors.smtp()
    if not config.enabled or not config.host:
        raise smtplib.SMTPException("SMTP is not configured")
    message = EmailMessage()
    message["From"] = config.from_address
    message["To"] = notification.recipient
    message["Subject"] = notification.subject
    message.set_content(notification.body)
    factory = smtplib.SMTP_SSL if config.use_ssl else smtplib.SMTP
    kwargs = {"context": ssl.create_default_context()} if config.use_ssl else {}
    with factory(config.host, config.port, timeout=config.timeout_seconds, **kwargs) as client:
        if config.use_tls and not config.use_ssl:
            client.starttls(context=ssl.create_default_context())
        if config.username:
            client.login(config.username, config.password)
        client.send_message(message)


def delivery_finish(notification: Notification, *, error: str | None, final: bool) -> None:
    """Record an attempt: sent, failed for good, or failed and waiting for its retry (status stays pending)."""
    notification.attempts += 1
    if error is None:
        notification.status, notification.sent_at, notification.error_message = NotificationStatus.SENT, \
            timezone.now(), None
    else:
        notification.error_message = error[:1000]
        if final:
            notification.status = NotificationStatus.FAILED
    notification.save(update_fields=["attempts", "status", "sent_at", "error_message"])
