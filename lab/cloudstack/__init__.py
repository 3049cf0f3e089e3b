"""A wire-level CloudStack API emulator: signed requests, async jobs, sparse-file volumes.

Run it with `python -m lab.cloudstack --port 0 --state DIR`, or from Python with
`lab.cloudstack.launch(state_dir, **options)`. See docs/cloudstack.md.
"""

from lab.cloudstack.launcher import LabCloudStack, LabStartError, launch, start

__all__ = ["LabCloudStack", "LabStartError", "launch", "start"]
