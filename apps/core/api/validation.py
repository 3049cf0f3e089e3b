"""One way for views to validate a request body with a serializer."""
from __future__ import annotations

from apps.core.exceptions import InvalidInput


def validated(serializer_class, data, *, what: str = "the request body", **kwargs) -> dict:
    """Validated data, or a 400 naming what is wrong (a JSON array or scalar where an object belongs included)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"Invalid request: {what} must be a JSON object")
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
