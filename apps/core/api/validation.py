"""One way for views to validate a request body (or query) with a serializer."""
from __future__ import annotations

from apps.core.exceptions import InvalidInput


def checked(serializer_class, data, **kwargs) -> dict:
    """What ``serializer_class`` makes of ``data``, or its 400 with the field errors (a body that is no JSON object
    gets the serializer's own message)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated(serializer_class, data, *, what: str = "the request body", **kwargs) -> dict:
    """Validated data, or a 400 naming what is wrong (a JSON array or scalar where an object belongs included)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"Invalid request: {what} must be a JSON object")
    return checked(serializer_class, data, **kwargs)
