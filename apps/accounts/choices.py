"""The accounts' vocabularies (declared as words, see ``apps.core.choices.vocabulary``)."""
from apps.core.choices import vocabulary

OverrideType = vocabulary("OverrideType", """
    allow: Show the item whatever the department sees
    deny: Hide the item whatever the department sees
""")

Severity = vocabulary("Severity", "info warning critical")
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

DeliveryMode = vocabulary("DeliveryMode", """
    immediate: As it happens
    digest: In a daily digest
""")

# Seed 004's event types, then ours.
EventType = vocabulary("EventType", """
    drift_critical: Critical drift
    drift_warning: Drift warning
    snapshot_failure: Snapshot failure
    compliance_violation: Compliance violation
    health_score_drop: Tenant health score drop
    replication_failed: Replication failed
    runbook_escalation: Runbook approval overdue
    test_email: Test email
    digest: Daily digest
""")

NotificationStatus = vocabulary("NotificationStatus", """
    pending: Waiting to be sent (or to be retried)
    sent: Accepted by the SMTP server
    failed: Not sent after every attempt
""")
