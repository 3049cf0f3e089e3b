"""The one client of the SMTP server: send a queued email, record each attempt's outcome on its row; and the
daily digests composed from the events that wait for them."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from django.utils import timezone

from . import selectors
from .choices import EventType, NotificationStatus
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
    if notification.status != NotificationStatus.PENDING:
        # A digest's events share its outcome.
        Notification.objects.filter(digest=notification).update(
            status=notification.status, sent_at=notification.sent_at, error_message=notification.error_message)


def digests_compose() -> list[Notification]:
    """One email per recipient with the events that waited for their digest since the last one (in the caller's
    transaction; the caller queues them)."""
    waiting = (Notification.objects.select_for_update().filter(for_digest=True, digest__isnull=True,
                                                                 status=NotificationStatus.PENDING).order_by("id"))
    by_recipient: dict[tuple, list[Notification]] = {}
    for row in waiting:
        by_recipient.setdefault((row.recipient, row.user_id, row.username), []).append(row)
    branding = selectors.branding_answer()
    digests = []
    for (recipient, user_id, username), rows in by_recipient.items():
        lines = [f"- {timezone.localtime(r.created_at):%Y-%m-%d %H:%M} [{r.severity}] {r.subject}" for r in rows]
        digest = Notification.objects.create(
            user_id=user_id, username=username, event_type=EventType.DIGEST, recipient=recipient,
            subject=f"{branding['company_name']}: {len(rows)} event{'s' if len(rows) > 1 else ''} since the last digest",
            body="\n".join(["What happened since your last digest:", "", *lines, "",
                            "Each event's details are in GET /notifications/history."]))
        Notification.objects.filter(pk__in=[r.pk for r in rows]).update(digest=digest)
        digests.append(digest)
    return digests
