"""Every key of QEasy metadata, honoured by Ferry or named as not supported: no key passes silently.

The metadata models read leniently (``extra="allow"``), so an existing QEasy export loads
unchanged; this module says what became of each key. :func:`metadata_warnings` walks a metadata
document (as written: before the models normalise it) and returns one warning
:class:`~ferry.errors.Issue` per key Ferry does not act on::

    source.autoFillResponse: not supported by Ferry (in QEasy it fills `response` with the
      fields of a real API answer)
    source.request[2].lable: unknown key
      hint: did you mean `label`? ...

A key is *honoured* when the code acts on it, or when it has no effect on the data in QEasy
either (``label``, ``describe``: what the UI shows). Each table below maps the keys valid at one
level of the document to a :class:`Key`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ferry.errors import Issue

__all__ = ["LEVELS", "OTHER_RESPONSE_NAMES", "Key", "metadata_warnings", "unsupported_message"]


@dataclass(frozen=True, slots=True)
class Key:
    """What Ferry does with one metadata key.

    Attributes:
        qeasy: ``None`` when Ferry honours the key; otherwise what the key does in QEasy, the
            end of "not supported by Ferry (in QEasy it ...)".
        inside: How to walk the key's value: the name of a level (an object), ``"fields"`` (a
            list of field objects), ``"condition"`` or ``"otherResponse"``.
        only: Honoured only for these values; any other value is not supported (``qeasy`` says
            what QEasy does).
    """

    qeasy: str | None = None
    inside: str | None = None
    only: tuple[Any, ...] | None = None
    instead: str | None = None
    """What to do in Ferry instead, given as the warning's hint."""


OK = Key()
FIELDS = Key(inside="fields")


def _no(qeasy: str, instead: str | None = None) -> Key:
    return Key(qeasy=qeasy, instead=instead)


_DETAIL = "makes the KuaiMai list-to-detail adapter call a detail API for each listed record"
_ATTACHMENTS = "makes the Kingdee adapter download or upload the records' attachments"

SOURCE: dict[str, Key] = {
    "api": OK,
    "effect": OK,
    "type": OK,
    "method": OK,
    "id": OK,
    "number": OK,
    "idCheck": OK,
    "request": FIELDS,
    "otherRequest": FIELDS,
    "response": FIELDS,  # the declared response fields: what the UI offers, as in QEasy
    "otherResponse": Key(inside="otherResponse"),
    "condition": Key(inside="condition"),
    "condition_bk": OK,  # a disabled copy of condition: QEasy ignores it too
    "beatFlat": OK,
    "pagination": Key(inside="pagination"),
    "omissionRemedy": Key(inside="omissionRemedy"),
    "operation": Key(inside="operation"),  # sources say {"method": "none"}
    "name": _no("names a field shown as the record's name, like `number`"),
    "autoFillResponse": _no(
        "fills `response` with the fields of a real API answer",
        "run `ferry preview SCHEME --fill-response`: it writes the sampled answer's fields and types into `response`",
    ),
    "delay": _no("delays each queued job by this many seconds"),
    "formatResponse": _no("formats values for display (值格式化)"),
    "responseFields": _no("is not described in any public QEasy material"),
    "otherapi": _no(_DETAIL),
    "detailkey": _no(_DETAIL),
    "detailkey1": _no(_DETAIL),
    "detailkey2": _no(_DETAIL),
}
"""Top-level keys of source (QUERY) metadata."""

TARGET: dict[str, Key] = {
    "api": OK,
    "effect": OK,
    "type": OK,
    "method": OK,
    "idCheck": OK,  # QEasy exports write it on both sides; only the source's counts, there too
    "request": FIELDS,
    "otherRequest": FIELDS,
    "operation": Key(inside="operation"),
    "distributionOrg": OK,
    "isUploadFile": _no(
        "uploads the files of the record's `attachment` list and binds them to the saved bill"
    ),
    "groupCalculate": _no(
        "sums rows by header and body groups before writing (Ferry's operation method merge groups without sums)"
    ),
    "formatResponse": _no("formats values for display (值格式化)"),
    "buildRows": _no("probably expands detail arrays into one VALUES row per line"),
    "delay": _no("delays each queued job by this many seconds"),
}
"""Top-level keys of target (EXECUTE) metadata."""

FIELD: dict[str, Key] = {
    "field": OK,
    "label": OK,
    "type": OK,
    "value": OK,
    "describe": OK,
    "is_required": OK,
    "parent": OK,
    "parent_id": OK,
    "id": OK,
    "children": FIELDS,
    "parser": Key(inside="parser"),
    "defaultValue": _no("is the UI's name of the default value, which exports store as `value`"),
}
"""Keys of a field object (items of request, otherRequest, response, takeOverRequest ...)."""

PARSER: dict[str, Key] = {
    "name": OK,
    "params": OK,
    "params1": OK,
    "params2": OK,
    "view": _no("is read by the Weaver E9 workflowRequestTableFields parser"),
    "edit": _no("is read by the Weaver E9 workflowRequestTableFields parser"),
    "fieldId": _no("is read by the Weaver E9 workflowRequestTableFields parser"),
}

RULE: dict[str, Key] = {"field": OK, "logic": OK, "value": OK, "strictMode": OK}
"""Keys of a condition test."""

OPERATION: dict[str, Key] = {
    "method": OK,
    "rows": OK,
    "rowsKey": Key(
        qeasy="says how the rows are carried; Ferry always sends them as an array", only=("array",)
    ),
    "keys": OK,
    "headerGroup": OK,
    "bodyName": OK,
}

OMISSION: dict[str, Key] = {
    "crontab": OK,
    "takeOverRequest": FIELDS,
    "adapter": _no("names another adapter class to run the sweep with"),
}

PAGINATION: dict[str, Key] = {"pageSize": OK, "page_size": OK}

LEVELS: dict[str, dict[str, Key]] = {
    "source": SOURCE,
    "target": TARGET,
    "field": FIELD,
    "parser": PARSER,
    "rule": RULE,
    "operation": OPERATION,
    "omissionRemedy": OMISSION,
    "pagination": PAGINATION,
}
"""Every level of a metadata document and its keys."""

OTHER_RESPONSE_NAMES: dict[str, Key] = {
    "DataKey": OK,
    "StatusKey": OK,
    "StatusValue": OK,
    "PageKey": OK,
    "DownloadAttachment": _no(_ATTACHMENTS),
    "AttachmentFields": _no(_ATTACHMENTS),
    "AttachmentFileName": _no(_ATTACHMENTS),
    "downStrategyId": _no(_ATTACHMENTS),
    "SourceStrategyId": _no(_ATTACHMENTS),
    "downloadRequest": _no(_ATTACHMENTS),
    "downloadapi": _no(_ATTACHMENTS),
    "uploadAttachment": _no(_ATTACHMENTS),
    "uploadRequest": _no(_ATTACHMENTS),
    "uploadapi": _no(_ATTACHMENTS),
}
"""``field`` names of ``otherResponse`` items (on an http source; any name in the first item is
the generic adapters' list path)."""


def unsupported_message(qeasy: str) -> str:
    """``not supported by Ferry (in QEasy it ...)``."""
    return f"not supported by Ferry (in QEasy it {qeasy})"


def _suggest(key: str, known: Mapping[str, Key]) -> str | None:
    """``did you mean `x`?`` for the nearest honoured key (case first, then spelling)."""
    names = [name for name, entry in known.items() if entry.qeasy is None]
    same = [name for name in names if name.lower() == str(key).lower()]
    near = same or difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    return f"did you mean `{near[0]}`?" if near else None


def _unknown(key: Any, value: Any, level: str, path: str) -> Issue:
    known = LEVELS[level]
    other = {"source": "target", "target": "source"}.get(level)
    if other is not None and key in LEVELS[other] and key not in known:
        return Issue(path, f"a {other} key; the {level} side does not use it", None, None, "warning")
    hint = _suggest(key, known)
    listed = "keys Ferry reads here: " + ", ".join(n for n, e in known.items() if e.qeasy is None)
    hint = f"{hint} {listed}" if hint else listed
    message = "unknown key"
    if level == "target" and isinstance(value, str | int | float | bool):
        message += "; Ferry passes it to the target connector as an option, like an otherRequest field"
    return Issue(path, message, None, hint, "warning")


MAX_WARNINGS = 1000
"""Most warnings one document gives: a generated file can hold 100,000 copies of one typo."""


def _walk(data: Mapping[str, Any], level: str, path: str, out: list[Issue]) -> None:
    keys = LEVELS[level]
    for key, value in data.items():
        if len(out) >= MAX_WARNINGS:
            return
        where = f"{path}.{key}"
        entry = keys.get(key)
        if entry is None:
            out.append(_unknown(key, value, level, where))
        elif entry.qeasy is not None and (entry.only is None or value not in entry.only):
            got = value if entry.only is not None else None
            out.append(Issue(where, unsupported_message(entry.qeasy), got, entry.instead, "warning"))
        elif entry.inside is not None:
            _INSIDE.get(entry.inside, _object(entry.inside))(value, where, out)


def _object(level: str) -> Callable[[Any, str, list[Issue]], None]:
    def walk(value: Any, path: str, out: list[Issue]) -> None:
        if isinstance(value, Mapping):
            _walk(value, level, path, out)

    return walk


def _fields(value: Any, path: str, out: list[Issue]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                _walk(item, "field", f"{path}[{i}]", out)


def _condition(value: Any, path: str, out: list[Issue]) -> None:
    if not isinstance(value, list):
        return
    single = bool(value) and all(isinstance(v, Mapping) for v in value)  # one AND group, no outer list
    for g, group in enumerate([value] if single else value):
        for r, rule in enumerate(group if isinstance(group, list) else []):
            if isinstance(rule, Mapping):
                _walk(rule, "rule", f"{path}[{g}][{r}]", out)


def _other_response(value: Any, path: str, out: list[Issue]) -> None:
    _fields(value, path, out)
    if isinstance(value, list):
        for i, item in enumerate(value):
            name = item.get("field") if isinstance(item, Mapping) else None
            if isinstance(name, str) and (i > 0 or name in OTHER_RESPONSE_NAMES):
                out += _response_name(name, f"{path}[{i}].field")  # the first item may be a list path


def _response_name(name: str, where: str) -> list[Issue]:
    """The warning for an ``otherResponse`` item's ``field`` Ferry does not read, if any."""
    entry = OTHER_RESPONSE_NAMES.get(name)
    if entry is None:
        hint = _suggest(name, OTHER_RESPONSE_NAMES)
        known = "known: " + ", ".join(n for n, e in OTHER_RESPONSE_NAMES.items() if e.qeasy is None)
        return [
            Issue(where, "unknown otherResponse field", name, f"{hint} {known}" if hint else known, "warning")
        ]
    if entry.qeasy is not None:
        return [Issue(where, unsupported_message(entry.qeasy), name, None, "warning")]
    return []


_INSIDE: dict[str, Callable[[Any, str, list[Issue]], None]] = {
    "fields": _fields,
    "condition": _condition,
    "otherResponse": _other_response,
}


def metadata_warnings(data: Any, side: str, prefix: str | None = None) -> list[Issue]:
    """One warning per key of ``data`` (raw metadata of ``side``) that Ferry does not act on.

    Args:
        data: The metadata as parsed from its file (a mapping; anything else gives ``[]``).
        side: ``"source"`` or ``"target"``.
        prefix: Path prefix of the warnings (default: ``side``).

    Returns:
        Warnings (``severity="warning"``): a known key Ferry does not support, saying what it
        does in QEasy; an unknown key, with the nearest key valid at that level. At most
        :data:`MAX_WARNINGS` (and a few more from ``otherResponse`` item names).
    """
    if not isinstance(data, Mapping) or side not in ("source", "target"):
        return []
    out: list[Issue] = []
    _walk(data, side, side if prefix is None else prefix, out)
    return out
