"""Check real API answers against the OpenAPI schema that drf-spectacular publishes at /api/schema/.

Scripts and GUIs generate their clients from that schema, so an answer that does not match it is a bug a user
would notice. ``assert_matches_schema(response, "/api/v1/failover/jobs", "get")`` validates the JSON body
against the documented schema of that operation and status code. By default objects that list their properties
are closed (``additionalProperties: false`` unless the schema says otherwise): an undocumented key fails too.
"""
from __future__ import annotations

import copy
import functools

import jsonschema
from drf_spectacular.generators import SchemaGenerator


@functools.cache
def openapi() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _to_json_schema(node, strict: bool):
    """OpenAPI 3.0 -> JSON Schema: ``nullable`` becomes a null type; closed objects when ``strict``."""
    if isinstance(node, list):
        return [_to_json_schema(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value, strict) for key, value in node.items()}
    if out.pop("nullable", False):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out:
            out = {"anyOf": [{"type": "null"}, out]}
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def response_schema(path: str, method: str, status: int | str = 200, *, strict: bool = True) -> dict:
    document = openapi()
    operation = document["paths"][path][method.lower()]
    responses = operation["responses"]
    answer = responses.get(str(status)) or responses.get("default")
    assert answer is not None, f"{method.upper()} {path} documents no {status} answer (has {sorted(responses)})"
    media = answer.get("content", {}).get("application/json")
    assert media is not None, f"{method.upper()} {path} {status} documents no JSON body"
    schema = copy.deepcopy(media["schema"])
    schema["components"] = document.get("components", {})
    return _to_json_schema(schema, strict)


def assert_matches_schema(response, path: str, method: str, *, strict: bool = True) -> None:
    """``path`` is the schema's path template, e.g. ``/api/v1/failover/{job_id}/status``."""
    schema = response_schema(path, method, response.status_code, strict=strict)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{method.upper()} {path} {response.status_code}: {'/'.join(map(str, e.path)) or '<root>'}: {e.message}"
        for e in errors[:10])
