"""The shared answer pieces under their first import path (they live in ``apps.core.api.serializers``)."""
from __future__ import annotations

from .serializers import ErrorResponseSerializer, JobEventSerializer, SuccessMessageSerializer, errors

__all__ = ["ErrorResponseSerializer", "JobEventSerializer", "SuccessMessageSerializer", "errors"]
