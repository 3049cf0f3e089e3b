from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    name = "apps.replication"
    label = "replication"
    default_auto_field = "django.db.models.BigAutoField"
