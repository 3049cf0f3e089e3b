"""The portal's vocabularies: change actions, drift severities, collection outcomes, resource types."""
from django.db import models


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class CollectionStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# The seed's resource type names (history paths, drift events) for what the collector reads.
RESOURCE_TYPES = ("domain", "account", "project", "hypervisor", "flavor", "image", "server", "volume", "snapshot",
                  "network", "security_group", "port", "floating_ip", "storage_pool")
