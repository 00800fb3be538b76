"""JSON Schema of the native scheme file and of QEasy metadata (backs ``ferry schema``).

The schemas come from the pydantic models, so every key's ``description`` is the one written
next to its ``Field``. Durations accept ``"30s"``/``"5m"``/``"1h"``/``"7d"`` or seconds, and a
side's ``metadata`` is either the embedded metadata object or a path to its file. Attributes the
loader fills in (``source_meta``, ``base_dir`` ...) are not part of the file format and are left
out.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from ferry.scheme.metadata import SourceMetadata, TargetMetadata
from ferry.scheme.model import Scheme

__all__ = ["metadata_json_schema", "scheme_json_schema"]

_DURATION = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|min|h|d|w)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 30s, 5m, 1h, 7d, 2w, or a number of seconds.",
}
_PATH = {
    "type": "string",
    "description": "Path of a .json/.jsonc/.yaml metadata file, relative to the scheme file.",
}


_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def _friendly(value: Any) -> Any:
    """``"P1D"`` -> ``"1d"``, ``"PT5M"`` -> ``"5m"`` (the form users write); lists element-wise."""
    if isinstance(value, list):
        return [_friendly(v) for v in value]
    m = _ISO.match(value) if isinstance(value, str) else None
    if m is None:
        return value
    seconds = sum(float(m.group(k) or 0) * f for k, f in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _fix_durations(node: Any) -> Any:
    if isinstance(node, dict):
        duration = node.get("type") == "string" and node.get("format") == "duration"
        items = node.get("items")
        if node.get("type") == "array" and isinstance(items, dict) and items.get("format") == "duration":
            out = {k: v for k, v in node.items() if k != "items"}
            out["items"] = copy.deepcopy(_DURATION)
            if "default" in out:
                out["default"] = _friendly(out["default"])
            return out
        if duration:
            out = copy.deepcopy(_DURATION)
            for key in ("description", "title"):
                if key in node:
                    out[key] = node[key]
            if "default" in node:
                out["default"] = _friendly(node["default"])
            return out
        fixed = {k: _fix_durations(v) for k, v in node.items()}
        if "anyOf" in fixed and "default" in fixed:
            fixed["default"] = _friendly(fixed["default"])
        return fixed
    if isinstance(node, list):
        return [_fix_durations(v) for v in node]
    return node


def _drop_internal(schema: dict[str, Any]) -> None:
    internal = [name for name, info in Scheme.model_fields.items() if info.exclude]
    props = schema.get("properties", {})
    for name in internal:
        props.pop(name, None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r not in internal]


def metadata_json_schema(side: Literal["source", "target"]) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of QEasy metadata for one side.

    Raises:
        ValueError: ``side`` is neither ``"source"`` nor ``"target"``.
    """
    if side not in ("source", "target"):
        raise ValueError(f"side must be 'source' or 'target', not {side!r}")
    model = SourceMetadata if side == "source" else TargetMetadata
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"QEasy {side} metadata"
    return schema


def _side_schema(side: str, side_defs: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(side_defs)
    schema["title"] = f"{side.capitalize()} side"
    props = schema["properties"]
    described = props["metadata"].get("description")
    props["metadata"] = {
        "anyOf": [{"$ref": f"#/$defs/{meta['title']}"}, _PATH],
        "description": described,
    }
    return schema


def scheme_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the native scheme file, with both metadata models embedded."""
    schema = _fix_durations(Scheme.model_json_schema(mode="validation"))
    _drop_internal(schema)
    defs = schema.setdefault("$defs", {})
    side_defs = defs.pop("SideSpec")
    for side, model in (("source", SourceMetadata), ("target", TargetMetadata)):
        meta = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
        for name, definition in meta.pop("$defs", {}).items():
            defs.setdefault(name, definition)
        defs[meta["title"]] = meta
        name = f"{side.capitalize()}Side"
        defs[name] = _side_schema(side, side_defs, meta)
        schema["properties"][side] = {"$ref": f"#/$defs/{name}"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Ferry integration scheme"
    return schema
