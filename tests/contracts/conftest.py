"""The lab peers the contract tests replay the seeds against: the CloudStack emulator with a replicated VM
(tests/failover/conftest.py) and, for seed 002, the agent process next to vcsim (tests/agent/conftest.py)."""
from tests.agent.conftest import configured_agent, control_plane, lab_vms, si, sim  # noqa: F401
from tests.failover.conftest import client, cloud, cloud_config, networks  # noqa: F401
