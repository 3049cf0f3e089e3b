"""`notification_config` of a failover request: an email (Django's mail backend) and/or a webhook (JSON POST).

A notification that cannot be delivered is recorded as a warning event; it never changes the job's outcome.
"""
from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from apps.core.jobs import record_event
from apps.core.utils import iso

from . import conf
from .models import FailoverJob

logger = logging.getLogger(__name__)
JOB_KIND = "failover"
WEBHOOK_KEYS = ("webhook_url", "webhook", "slack_webhook")


def _payload(job: FailoverJob, event: str, message: str) -> dict:
    return {
        "event": event, "job_id": job.job_id, "job_type": job.job_type, "status": job.status,
        "vm_id": job.vm_context.vm_id, "vm_name": job.vm_context.vm_name,
        "destination_vm_id": job.destination_vm_id or None, "message": message,
        "error": job.error_message or None, "timestamp": iso(timezone.now()),
        # Slack's incoming webhooks read `text`; other receivers ignore it.
        "text": f"[{job.job_type} failover] {job.vm_context.vm_name}: {message}",
    }


def notify(job: FailoverJob, event: str, message: str) -> None:
    """Send `event` (failover.completed, failover.failed, failover.test_ended, ...) where the job asked."""
    config = job.notification_config or {}
    if not config:
        return
    payload = _payload(job, event, message)
    emails = config.get("email") or []
    if isinstance(emails, str):
        emails = [emails]
    if emails:
        try:
            send_mail(subject=f"{job.job_type.capitalize()} failover of {job.vm_context.vm_name}: {event.split('.')[-1]}",
                      message=f"{message}\n\nJob: {job.job_id}\nStatus: {job.status}\n"
                              + (f"Destination VM: {job.destination_vm_id}\n" if job.destination_vm_id else "")
                              + (f"Error: {job.error_message}\n" if job.error_message else ""),
                      from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=list(emails))
            record_event(JOB_KIND, job.job_id, "notify", f"email sent to {', '.join(emails)}", notification=event)
        except Exception as exc:  # any mail transport failure: SMTP, DNS, refused
            record_event(JOB_KIND, job.job_id, "notify", f"email to {', '.join(emails)} failed: {exc}",
                         level="warning", notification=event)
    for key in WEBHOOK_KEYS:
        url = config.get(key)
        if not url:
            continue
        try:
            response = requests.post(url, json=payload, timeout=conf.webhook_timeout())
            if response.status_code >= 400:
                raise requests.HTTPError(f"HTTP {response.status_code}")
            record_event(JOB_KIND, job.job_id, "notify", f"{key} notified ({response.status_code})",
                         notification=event)
        except requests.RequestException as exc:
            # The URL may carry a secret token (Slack): log only its host.
            host = requests.utils.urlparse(url).hostname
            reason = str(exc) if isinstance(exc, requests.HTTPError) else type(exc).__name__
            record_event(JOB_KIND, job.job_id, "notify", f"{key} to {host} failed: {reason}",
                         level="warning", notification=event)
