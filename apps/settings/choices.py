from django.db import models


class OsseaConfigAction(models.TextChoices):
    GET = "get"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    TEST = "test"


class CloudResourceKind(models.TextChoices):
    VOLUME = "volume", "Volume"
    ATTACHMENT = "attachment", "Volume attachment"
    SNAPSHOT = "snapshot", "Volume snapshot"
    VM = "vm", "Virtual machine"


class CloudResourceState(models.TextChoices):
    CREATED = "created", "Created"
    RELEASED = "released", "Handed over (kept)"
    REMOVED = "removed", "Removed"
