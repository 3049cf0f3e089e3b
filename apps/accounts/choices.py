from django.db import models


class OverrideType(models.TextChoices):
    ALLOW = "allow", "Show the item whatever the department sees"
    DENY = "deny", "Hide the item whatever the department sees"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class DeliveryMode(models.TextChoices):
    IMMEDIATE = "immediate", "As it happens"
    DIGEST = "digest", "In a daily digest"


class EventType(models.TextChoices):
    # Seed 004's event types, then ours.
    DRIFT_CRITICAL = "drift_critical", "Critical drift"
    DRIFT_WARNING = "drift_warning", "Drift warning"
    SNAPSHOT_FAILURE = "snapshot_failure", "Snapshot failure"
    COMPLIANCE_VIOLATION = "compliance_violation", "Compliance violation"
    HEALTH_SCORE_DROP = "health_score_drop", "Tenant health score drop"
    REPLICATION_FAILED = "replication_failed", "Replication failed"
    RUNBOOK_ESCALATION = "runbook_escalation", "Runbook approval overdue"
    TEST_EMAIL = "test_email", "Test email"
    DIGEST = "digest", "Daily digest"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent (or to be retried)"
    SENT = "sent", "Accepted by the SMTP server"
    FAILED = "failed", "Not sent after every attempt"
