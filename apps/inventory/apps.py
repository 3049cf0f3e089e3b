"""The inventory: VM contexts with their disks and NICs."""
from apps.core import apps as core_apps


class InventoryConfig(core_apps.PlatformAppConfig):
    name = "apps.inventory"
    label = "inventory"
