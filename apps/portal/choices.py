"""The portal's vocabularies: change actions, drift severities, collection outcomes, resource types."""
from apps.core.choices import vocabulary

ChangeAction = vocabulary("ChangeAction", "created changed deleted")
Severity = vocabulary("Severity", "critical warning info")
CollectionStatus = vocabulary("CollectionStatus", "running succeeded failed")

# The seed's resource type names (history paths, drift events) for what the collector reads.
RESOURCE_TYPES = ("domain", "account", "project", "hypervisor", "flavor", "image", "server", "volume", "snapshot",
                  "network", "security_group", "port", "floating_ip", "storage_pool")
