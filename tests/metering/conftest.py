"""The portal's emulator world (several tenants, VMs, volumes, a snapshot) and its collection, for metering."""
from tests.portal.conftest import Cloud, cloud, collected  # noqa: F401 -- fixtures shared with the portal's tests
