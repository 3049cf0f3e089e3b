"""Checks an answer against a seed example: the documented status, every documented key with its JSON type.

The examples are copied from the seeds into the test modules as data (the project does not read the seeds at test
time). A documented example value gives the type its key must have: a string, a number (int or float alike), a
boolean, an object (checked key by key) or an array (each item checked against the example's first item); `null` in
an example documents a key whose value may be anything. `differences` names, by path ("created_volumes[].volume_id"),
keys whose value type deliberately differs; each such difference is listed in docs/api-compatibility.md.
"""
from __future__ import annotations

from typing import Any

_JSON_TYPES = ((bool, "boolean"), ((int, float), "number"), (str, "string"), (dict, "object"), (list, "array"))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python, name in _JSON_TYPES:
        if isinstance(value, python):
            return name
    raise TypeError(f"not a JSON value: {value!r}")


def shape_errors(actual: Any, documented: Any, path: str = "", differences: dict | None = None) -> list[str]:
    differences = differences or {}
    if path in differences or documented is None:
        return []
    want, got = json_type(documented), json_type(actual)
    if want != got:
        return [f"{path or '<root>'}: documented {want}, answered {got} ({actual!r:.80})"]
    errors: list[str] = []
    if want == "object":
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            if key not in actual and where not in differences:
                errors.append(f"{where}: documented key missing")
            elif key in actual:
                errors += shape_errors(actual[key], value, where, differences)
    elif want == "array" and documented:
        for item in actual:
            errors += shape_errors(item, documented[0], f"{path}[]", differences)
    return errors


def assert_seed_answer(response, status: int, documented: Any, *, differences: dict | None = None,
                       nonempty: tuple[str, ...] = ()) -> Any:
    """The answer has the seed's status and every key of the seed's example with its type; returns the body.

    `nonempty` names arrays (top-level keys, or "" for the answer itself) that must hold at least one item, so the
    item shape is really checked."""
    body = response.json()
    assert response.status_code == status, f"documented {status}, answered {response.status_code}: {body}"
    errors = shape_errors(body, documented, differences=differences)
    assert not errors, "\n".join(errors)
    for key in nonempty:
        assert (body[key] if key else body), f"{key or 'the answer'} is empty: the item shape went unchecked"
    return body
