"""The platform's CloudStack client: the one place that builds CloudStack requests.

Wraps the `cs` package (which signs requests). Knows nothing of Django: callers pass the API URL,
keys, zone and the control plane's VM id. Every failure is a `CloudStackError` whose message
names the cause; secrets (secret key, signatures) never reach a log line or an error message.

The package's rooms: `errors` (the error family), `helpers` (names, sizes, device paths, local
MACs, the API URL's address check), `transport` (signed calls, error mapping, paged lists,
async-job polling), `storage` (volumes, snapshots, storage pools, disk offerings) and `client` (the
composed operations, control-plane VM detection, the connection test). Callers keep
importing from here: `from apps.settings import cloudstack as cs`.
"""

from __future__ import annotations

from .client import (
    DEFAULT_DEVICE_TIMEOUT,
    AttachedVolume,
    CloudStackClient,
    DeployNic,
    detect_oma_vm,
    nic_parameters,
    test_connection,
)
from .errors import (
    CloudStackAddressRefusedError,
    CloudStackAPIError,
    CloudStackAuthError,
    CloudStackBadResponseError,
    CloudStackCommandUnavailableError,
    CloudStackDeviceError,
    CloudStackError,
    CloudStackJobError,
    CloudStackJobTimeoutError,
    CloudStackNotFoundError,
    CloudStackUnreachableError,
    OmaVmDetectionError,
)
from .helpers import (
    PRODUCTION_DEV_ROOT,
    check_api_address,
    local_macs,
    size_bytes_to_gb,
    virtio_serial,
    volume_device_path,
    volume_name_for_disk,
)
from .transport import (
    DEFAULT_JOB_TIMEOUT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    JOB_FAILED,
    JOB_PENDING,
    JOB_SUCCEEDED,
    CloudStackTransport,
    Submitted,
)

__all__ = [
    "DEFAULT_DEVICE_TIMEOUT",
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "JOB_FAILED",
    "JOB_PENDING",
    "JOB_SUCCEEDED",
    "PRODUCTION_DEV_ROOT",
    "check_api_address",
    "AttachedVolume",
    "CloudStackAddressRefusedError",
    "CloudStackAPIError",
    "CloudStackAuthError",
    "CloudStackBadResponseError",
    "CloudStackClient",
    "CloudStackCommandUnavailableError",
    "CloudStackDeviceError",
    "CloudStackError",
    "CloudStackJobError",
    "CloudStackJobTimeoutError",
    "CloudStackNotFoundError",
    "CloudStackTransport",
    "Submitted",
    "CloudStackUnreachableError",
    "DeployNic",
    "OmaVmDetectionError",
    "detect_oma_vm",
    "local_macs",
    "nic_parameters",
    "size_bytes_to_gb",
    "test_connection",
    "virtio_serial",
    "volume_device_path",
    "volume_name_for_disk",
]
