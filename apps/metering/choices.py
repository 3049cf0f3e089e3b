from django.db import models


class PricingCategory(models.TextChoices):
    FLAVOR = "flavor"
    STORAGE_GB = "storage_gb"
    SNAPSHOT_GB = "snapshot_gb"
    RESTORE = "restore"
    VOLUME = "volume"
    NETWORK = "network"
    CUSTOM = "custom"


class Classification(models.TextChoices):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    IDLE = "idle"
