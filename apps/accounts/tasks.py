"""Emails go out from the worker: a request or an event only queues them (services.notify, services.test_email)."""
from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.db import transaction

from . import mail
from .choices import NotificationStatus
from .models import Notification

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


def _backoff(retries: int) -> int:
    return min(30 * 2 ** retries, 600)  # 30 s, 60 s, 120 s: an SMTP server's short outage or greylisting


def permanent(exc: Exception) -> bool:
    """A 5xx answer (bad login, recipient refused) will not change on a retry; 4xx and lost connections may."""
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500 or \
        isinstance(exc, smtplib.SMTPRecipientsRefused)


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def send_notification(self, notification_id: int) -> None:
    """Send one queued email; on a passing failure record it and retry with backoff; record the final failure."""
    row = Notification.objects.filter(pk=notification_id).first()
    if row is None or row.status != NotificationStatus.PENDING:
        return
    try:
        mail.deliver(row)
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        final = self.request.retries >= MAX_RETRIES or permanent(exc)
        mail.delivery_finish(row, error=error, final=final)
        logger.warning("email not sent notification=%s attempt=%s final=%s error=%s", row.pk, row.attempts, final,
                       error)
        if not final:
            raise self.retry(countdown=_backoff(self.request.retries)) from None
        return
    mail.delivery_finish(row, error=None, final=True)
    logger.info("email sent notification=%s event_type=%s attempts=%s", row.pk, row.event_type, row.attempts)


@shared_task
def send_digests() -> int:
    """Beat, daily: each recipient's waiting digest events in one email (sent by send_notification)."""
    with transaction.atomic():
        digests = mail.digests_compose()
        for digest in digests:
            transaction.on_commit(lambda pk=digest.pk: send_notification.delay(pk))
    return len(digests)
