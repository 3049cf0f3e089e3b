"""The CloudStack client's error family: every failure is one of these, named for its cause.

`str()` of each is a sentence an operator can act on; none ever holds a secret key or signature.
"""

from __future__ import annotations

from pathlib import Path


class CloudStackError(Exception):
    """Base of every error this module raises; str() is a sentence an operator can act on."""

    def __init__(self, message: str, *, command: str | None = None):
        super().__init__(message)
        self.message = message
        self.command = command


class CloudStackAuthError(CloudStackError):
    """HTTP 401: wrong API key, wrong secret key, or a clock too far off for `expires`."""


class CloudStackAPIError(CloudStackError):
    """CloudStack refused a call; carries its errorcode (431, 530, ...) and errortext."""

    def __init__(self, command: str | None, errorcode: int, errortext: str,
                 cserrorcode: int | None = None, message: str | None = None):
        super().__init__(message or f"CloudStack refused {command}: {errortext} "
                         f"(error {errorcode})", command=command)
        self.errorcode = errorcode
        self.errortext = errortext
        self.cserrorcode = cserrorcode


class CloudStackCommandUnavailableError(CloudStackAPIError):
    """HTTP 401 for the command, not the keys: CloudStack does not have it, or the key's role does not allow it.

    ApiServer.verifyRequest looks the command up before the key, so an unknown command answers 401 under
    `errorresponse` (whatever the keys); a known command the role's rules deny answers 401 under the command's
    own response key, "The given command '...' either does not exist, is not available for user.".
    """

    def __init__(self, command: str | None, errortext: str, *, known: bool, cserrorcode: int | None = None):
        if known:
            message = (f"CloudStack refused {command} to this API key: its account's role does not allow the "
                       f"command ({errortext}); add an allow rule for {command} to the role (docs/cloudstack.md "
                       "lists the commands each operation needs)")
        else:
            message = (f"CloudStack does not know the API command {command} (HTTP 401 under errorresponse): "
                       "this CloudStack version does not have it, or the API URL reaches another service")
        super().__init__(command, 401, errortext, cserrorcode, message=message)
        self.known = known


class CloudStackNotFoundError(CloudStackAPIError):
    """A lookup by id or name found nothing (CloudStack answers 431 for an unknown id)."""


class CloudStackJobError(CloudStackAPIError):
    """An async job ended with jobstatus 2; errortext is CloudStack's own from the jobresult.

    errorcode is the job's `jobresultcode`, which CloudStack sets equal to `jobresult.errorcode`.
    """

    def __init__(self, command: str, jobid: str, errorcode: int, errortext: str,
                 resource_id: str | None = None, cserrorcode: int | None = None):
        super().__init__(command, errorcode, errortext, cserrorcode,
                         message=f"CloudStack job {jobid} ({command}) failed: {errortext} "
                                 f"(error {errorcode})")
        self.jobid = jobid
        # What the job was about (the new volume/VM/snapshot id), so a caller can clean up.
        self.resource_id = resource_id


class CloudStackJobTimeoutError(CloudStackError):
    """An async job was still pending after the client's job timeout."""

    def __init__(self, command: str, jobid: str, timeout: float, resource_id: str | None = None):
        super().__init__(f"CloudStack job {jobid} ({command}) did not finish within "
                         f"{timeout:g} s; it may still complete", command=command)
        self.jobid = jobid
        self.timeout = timeout
        self.resource_id = resource_id


class CloudStackUnreachableError(CloudStackError):
    """No HTTP answer at all: connection refused, name not resolved, TLS failure, timeout."""

    def __init__(self, api_url: str, reason: str, command: str | None = None):
        super().__init__(f"Cannot reach CloudStack at {api_url}: {reason}", command=command)
        self.api_url = api_url
        self.reason = reason


class CloudStackBadResponseError(CloudStackError):
    """Something answered, but not the CloudStack API (HTML page, proxy error, broken JSON)."""

    def __init__(self, api_url: str, detail: str, status: int | None = None,
                 command: str | None = None):
        super().__init__(f"{api_url} did not answer like the CloudStack API ({detail}); check that "
                         "the API URL is right, it usually ends with /client/api", command=command)
        self.api_url = api_url
        self.status = status


class CloudStackAddressRefusedError(CloudStackError):
    """The API URL's host resolves to an address the platform does not call (loopback, link-local, metadata)."""

    def __init__(self, api_url: str, reason: str):
        super().__init__(f"Refusing to call {api_url}: {reason}")
        self.api_url = api_url
        self.reason = reason


class CloudStackDeviceError(CloudStackError):
    """The job succeeded but the guest device did not (dis)appear in time."""

    def __init__(self, message: str, *, volume_id: str, device_path: Path):
        super().__init__(message)
        self.volume_id = volume_id
        self.device_path = device_path


class OmaVmDetectionError(CloudStackError):
    """The control plane's own VM could not be identified among CloudStack's VMs."""
