"""OpenAPI schemas of the portal's answers, written as an example answer (the seed's own way of showing them).

`shape(example)` turns an example into a JSON schema: each key required, its type the example value's, null
allowed where the example is `(value, "nullable")`; a list's items are its first element's shape; `{"*": v}` is a
map whose values are shaped like `v`.
"""
from __future__ import annotations


def shape(example):
    if example is None:
        return {"nullable": True}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    if isinstance(example, str):
        return {"type": "string"}
    if isinstance(example, list):
        return {"type": "array", "items": shape(example[0]) if example else {}}
    if isinstance(example, tuple):  # (example, "nullable"): a value that may be null
        return {**shape(example[0]), "nullable": True}
    if not example:  # anything
        return {}
    if set(example) == {"*"}:  # a map: any key, each value of the one shape
        return {"type": "object", "additionalProperties": shape(example["*"])}
    return {"type": "object", "required": sorted(example),
            "properties": {key: shape(value) for key, value in example.items()}}


NUM = (1.5, "nullable")
TEXT = ("x", "nullable")
FRESHNESS = {"collected_at": TEXT, "data_age_seconds": (1, "nullable"), "collection_duration_ms": (1, "nullable"),
             "stale": True, "last_error": TEXT}
