"""datamover: copy VM disks between NBD servers, fully or by changed areas.

A library for the agent (``copy``, ``verify``) and a CLI for operators
(``python -m datamover``). It talks NBD through libnbd and never imports Django.
"""

from .checkpoint import CheckpointMismatch
from .copier import (
    DEFAULT_CONNECTIONS,
    DEFAULT_DEPTH,
    DEFAULT_REQUEST_SIZE,
    DEFAULT_RETRIES,
    CopyResult,
    copy,
)
from .errors import CopyError, VerificationError
from .progress import Progress
from .verifier import VerifyResult, verify

__all__ = [
    "DEFAULT_CONNECTIONS",
    "DEFAULT_DEPTH",
    "DEFAULT_REQUEST_SIZE",
    "DEFAULT_RETRIES",
    "CheckpointMismatch",
    "CopyError",
    "CopyResult",
    "Progress",
    "VerificationError",
    "VerifyResult",
    "copy",
    "verify",
]
