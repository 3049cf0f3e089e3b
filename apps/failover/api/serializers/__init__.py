"""The failover API's serializers: request bodies (``requests``) and the answers, each rendered by the serializer
that the OpenAPI schema shows (``mappings``, ``readiness``, ``jobs``, ``preflight``)."""
from __future__ import annotations

from apps.core.api.serializers import answer

from .jobs import (
    FailoverCleanupStartedSerializer,
    FailoverDebugJobListSerializer,
    FailoverJobListSerializer,
    FailoverJobStatusSerializer,
    FailoverRefusalSerializer,
    FailoverRollbackDecisionSerializer,
    FailoverRollbackStartedSerializer,
    FailoverStartedSerializer,
    TestFailoverCleanupStartedSerializer,
    refusals,
)
from .mappings import (
    NetworkMappingCreatedSerializer,
    NetworkMappingListAnswerSerializer,
    NetworkMappingsDeletedSerializer,
    NetworkMappingsOfSourceDeletedSerializer,
    NetworkMappingsOfSourceSerializer,
    NetworkMappingsOfVMSerializer,
    NetworkMappingStatusAnswerSerializer,
    NetworkMappingsUpdatedSerializer,
)
from .preflight import FailoverPreflightConfigSerializer
from .readiness import (
    FailoverActiveJobsAnswerSerializer,
    FailoverConfigurationCheckSerializer,
    FailoverReadinessSerializer,
    FailoverSyncStatusAnswerSerializer,
    FailoverVolumeStatusAnswerSerializer,
)
from .requests import (
    LiveFailoverSerializer,
    MappingsPutSerializer,
    NetworkMappingSerializer,
    PreflightValidateSerializer,
    RollbackSerializer,
    TestFailoverSerializer,
    UnifiedFailoverSerializer,
)

__all__ = [
    "FailoverActiveJobsAnswerSerializer", "FailoverCleanupStartedSerializer", "FailoverConfigurationCheckSerializer",
    "FailoverDebugJobListSerializer", "FailoverJobListSerializer", "FailoverJobStatusSerializer",
    "FailoverPreflightConfigSerializer", "FailoverReadinessSerializer", "FailoverRefusalSerializer",
    "FailoverRollbackDecisionSerializer", "FailoverRollbackStartedSerializer", "FailoverStartedSerializer",
    "FailoverSyncStatusAnswerSerializer", "FailoverVolumeStatusAnswerSerializer", "LiveFailoverSerializer",
    "MappingsPutSerializer", "NetworkMappingCreatedSerializer", "NetworkMappingListAnswerSerializer",
    "NetworkMappingSerializer", "NetworkMappingStatusAnswerSerializer", "NetworkMappingsDeletedSerializer",
    "NetworkMappingsOfSourceDeletedSerializer", "NetworkMappingsOfSourceSerializer", "NetworkMappingsOfVMSerializer",
    "NetworkMappingsUpdatedSerializer", "PreflightValidateSerializer", "RollbackSerializer",
    "TestFailoverCleanupStartedSerializer", "TestFailoverSerializer", "UnifiedFailoverSerializer", "answer",
    "refusals",
]
