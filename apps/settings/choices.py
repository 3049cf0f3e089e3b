from django.db import models

from apps.core.choices import vocabulary

# The actions of the unified POST /api/v1/ossea/config.
OsseaConfigAction = vocabulary("OsseaConfigAction", "get create update delete test")


class CloudResourceKind(models.TextChoices):
    VOLUME = "volume", "Volume"
    ATTACHMENT = "attachment", "Volume attachment"
    SNAPSHOT = "snapshot", "Volume snapshot"
    VM = "vm", "Virtual machine"


class CloudResourceState(models.TextChoices):
    CREATED = "created", "Created"
    RELEASED = "released", "Handed over (kept)"
    REMOVED = "removed", "Removed"
    # Destroyed without expunge (the key may not expunge): CloudStack expunges it after its expunge delay.
    DESTROYED = "destroyed", "Destroyed, expunged by CloudStack later"
    # Its owner let it go (a rollback could not remove it): the orphan sweep retries; listed for the operator.
    ORPHANED = "orphaned", "Left behind (orphan sweep retries)"


# What the orphan sweep looks at: nothing handed over, nothing already gone.
SWEPT = (CloudResourceState.CREATED, CloudResourceState.ORPHANED)
