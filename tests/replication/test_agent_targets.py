"""Where the agent is told to write: the exports as it reaches them through its tunnel."""
import pytest

from apps.replication import exports
from apps.replication.models import VMExportMapping

pytestmark = pytest.mark.django_db


def _mapping(port: int) -> VMExportMapping:
    return VMExportMapping(vm_id="vm-1", vm_name="vm", disk_unit_number=0, export_name="migration-vm-vm-1-disk0",
                           device_path="/dev/null", port=port)


def test_agent_target_is_the_tunnel_local_forward_of_the_export(settings):
    settings.MP_AGENT_NBD_PORT_OFFSET = "0"
    assert exports.agent_target(_mapping(10809)) == {"host": "127.0.0.1", "port": 10809,
                                                     "export_name": "migration-vm-vm-1-disk0"}
    # `vma tunnel --nbd-local-offset 1000` listens at export port + 1000 on the agent's side.
    settings.MP_AGENT_NBD_PORT_OFFSET = "1000"  # from the environment, a string
    settings.MP_AGENT_NBD_HOST = "127.0.0.2"
    assert exports.agent_target(_mapping(10809)) == {"host": "127.0.0.2", "port": 11809,
                                                     "export_name": "migration-vm-vm-1-disk0"}
    settings.MP_AGENT_NBD_PORT_OFFSET = -800
    assert exports.agent_target(_mapping(10809))["port"] == 10009
    settings.MP_AGENT_NBD_PORT_OFFSET = 60000
    with pytest.raises(exports.ExportError, match="not a TCP port"):
        exports.agent_target(_mapping(10809))
    settings.MP_AGENT_NBD_PORT_OFFSET = "ten"
    with pytest.raises(exports.ExportError, match="whole number"):
        exports.agent_target(_mapping(10809))


def test_exports_use_only_ports_the_agents_keys_may_open(settings):
    settings.MP_NBD_PORT_RANGE = (24801, 24808)
    settings.MP_TUNNEL_NBD_PORTS = "24805-24808,24900"
    assert exports.export_ports() == [24805, 24806, 24807, 24808]
    assert exports._usable_ports() == [24805, 24806, 24807, 24808]
    settings.MP_TUNNEL_NBD_PORTS = [24900]
    with pytest.raises(exports.ExportError, match="MP_TUNNEL_NBD_PORTS"):
        exports._usable_ports()
