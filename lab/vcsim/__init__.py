"""The lab's vCenter: govmomi's vcsim built from Debian's packages, extended for Changed Block
Tracking, plus the helpers tests use to drive it. See docs/lab-vcsim.md."""

from .diskio import punch_zero, read_range, write_random
from .inventory import (
    create_vm,
    disks,
    ensure_network,
    find_datacenter,
    find_vm,
    flat_file_path,
)
from .simulator import (
    Vcsim,
    VcsimError,
    VcsimUnavailable,
    cache_dir,
    ensure_built,
    toolchain_available,
)

# Changed Block Tracking granularity of the simulator (lab/vcsim/go/simulator/lab_cbt.go).
CBT_BLOCK_SIZE = 64 * 1024

__all__ = [
    "CBT_BLOCK_SIZE",
    "Vcsim",
    "VcsimError",
    "VcsimUnavailable",
    "cache_dir",
    "create_vm",
    "disks",
    "ensure_built",
    "ensure_network",
    "find_datacenter",
    "find_vm",
    "flat_file_path",
    "punch_zero",
    "read_range",
    "toolchain_available",
    "write_random",
]
