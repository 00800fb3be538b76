"""``ferry preview --fill-response`` (QEasy's 自动填充响应): sampled records into ``response``.

The fields of sampled source records become the source metadata's ``response`` list, one field
object per key, ``{"field", "label", "type", "value": null, "describe": "_autoFillResponse"}``;
an object's or array's fields nest as ``children`` (each naming its ``parent``). Types are read
off the values: ``int``, ``float``, ``bool``, ``object``, ``array``, ``datetime`` or ``date``
for date texts, else ``string``.

What the user declared is kept: a field whose ``describe`` is not ``_autoFillResponse`` stays as
it is (its children merged the same way), and so do declared fields the sample lacks; fields an
earlier fill wrote are replaced.

The metadata is written back where it came from, the rest of the file unchanged: the
``response`` value of a JSON/JSONC metadata file is replaced in the text (comments outside it
kept), and so is the one in a YAML file or inline in the scheme YAML. When that cannot be done
exactly (the edited text would not read back as the intended document) the whole document is
written from its parsed form, and :attr:`Filled.note` says that comments and layout were lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ferry.errors import ConfigError
from ferry.scheme._documents import JSON_SUFFIXES, DocumentError, _blank_extensions, parse_text

__all__ = ["AUTO_FILL", "Filled", "fill_response", "infer_response", "merge_response"]

AUTO_FILL = "_autoFillResponse"
"""The ``describe`` of a response field a fill wrote (QEasy's marker)."""
MAX_DEPTH = 6
"""Deepest nesting of ``children`` written."""

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YAML_COMMENT = re.compile(r"(?:^|[ \t])#", re.MULTILINE)


@dataclass(frozen=True)
class Filled:
    """What a fill wrote."""

    file: Path
    fields: int
    """Top-level response fields written (kept ones included)."""
    added: int
    """Top-level fields the sample added that were not declared before."""
    inline: bool
    """The metadata is inline in the scheme file (else its own file)."""
    note: str = ""
    """Said when comments or layout of the file could not be kept."""


_TYPES: tuple[tuple[Any, str], ...] = (
    (bool, "bool"),  # before int: a bool is an int
    (int, "int"),
    ((float, Decimal), "float"),
    (Mapping, "object"),
    ((list, tuple), "array"),
    (datetime, "datetime"),  # before date: a datetime is a date
    (date, "date"),
)


def _type_of(value: Any) -> str | None:
    """The response type of a value (``None`` for ``None``: unknown yet)."""
    if value is None:
        return None
    for kinds, name in _TYPES:
        if isinstance(value, kinds):
            return name
    text = str(value).strip()
    return "datetime" if _DATETIME.match(text) else "date" if _DATE.match(text) else "string"


class _Seen:
    """One key's values across the sampled records: its type and its members' values."""

    def __init__(self) -> None:
        self.type: str | None = None
        self.members: list[Mapping[str, Any]] = []

    def add(self, value: Any) -> None:
        kind = _type_of(value)
        if kind is None:
            return
        if self.type is None or (self.type == "int" and kind == "float"):
            self.type = kind
        if isinstance(value, Mapping):
            self.members.append(value)
        elif isinstance(value, list | tuple):
            self.members.extend(v for v in value if isinstance(v, Mapping))


def infer_response(
    records: Iterable[Mapping[str, Any]],
    *,
    arrays: Sequence[str] = (),
    parent: str | None = None,
    depth: int = 0,
) -> list[dict[str, Any]]:
    """The response fields of ``records``, keys in the order first met.

    ``arrays`` names the ``beatFlat`` arrays: a ledger row holds one element of such an array as
    an object, and the field is written as the ``array`` the source returns.
    """
    seen: dict[str, _Seen] = {}
    for record in records:
        for key, value in record.items():
            seen.setdefault(str(key), _Seen()).add(value)
    out: list[dict[str, Any]] = []
    for key, info in seen.items():
        kind = info.type or "string"
        if key in arrays and kind == "object":
            kind = "array"
        item: dict[str, Any] = {
            "field": key,
            "label": key,
            "type": kind,
            "value": None,
            "describe": AUTO_FILL,
        }
        if parent is not None:
            item["parent"] = parent
        if info.members and depth + 1 < MAX_DEPTH:
            item["children"] = infer_response(info.members, parent=key, depth=depth + 1)
        out.append(item)
    return out


def _auto(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("describe") == AUTO_FILL


def merge_response(declared: Sequence[Any], inferred: Sequence[dict[str, Any]]) -> list[Any]:
    """``inferred`` in its order, a field the user declared (not auto-filled) in place of the
    inferred one of the same name (children merged alike), then declared fields the sample lacks."""
    own = {item.get("field"): item for item in declared if isinstance(item, Mapping) and not _auto(item)}
    out = [_merged(own.get(item["field"]), item) for item in inferred]
    names = {item["field"] for item in inferred}
    out += [item for item in declared if not _auto(item) and _name(item) not in names]
    return out


def _name(item: Any) -> Any:
    return item.get("field") if isinstance(item, Mapping) else None


def _merged(mine: Mapping[str, Any] | None, item: dict[str, Any]) -> Any:
    """The user's field (its children merged with the inferred ones) or the inferred one."""
    if mine is None:
        return item
    kept = dict(mine)
    if item.get("children") or mine.get("children"):
        kept["children"] = merge_response(list(mine.get("children") or []), item.get("children") or [])
    return kept


def fill_response(
    scheme_file: Path, records: Sequence[Mapping[str, Any]], *, arrays: Sequence[str] = ()
) -> Filled:
    """Write the response fields of ``records`` into the source metadata of ``scheme_file``.

    ``arrays``: the ``beatFlat`` arrays, when the records are ledger rows (see :func:`infer_response`).

    Raises:
        ConfigError: The scheme's source metadata cannot be read or written, or there are no
            records to take the fields from.
    """
    if not records:
        raise ConfigError(
            f"{scheme_file}: no sampled records to fill source.metadata.response from\n"
            "  hint: choose a window with records (--since/--until) or use --from-ledger"
        )
    scheme_text = _read(scheme_file)
    scheme_data = parse_text(scheme_text, _kind(scheme_file))
    source = scheme_data.get("source") if isinstance(scheme_data, Mapping) else None
    where = source.get("metadata") if isinstance(source, Mapping) else None
    inferred = infer_response(records, arrays=arrays)
    if isinstance(where, Mapping):
        return _fill_inline(scheme_file, scheme_text, scheme_data, inferred)
    if not isinstance(where, str):
        raise ConfigError(f"{scheme_file}: source.metadata is neither a file path nor inline metadata")
    file = Path(where)
    return _fill_file(file if file.is_absolute() else scheme_file.resolve().parent / file, inferred)


def _kind(file: Path) -> str:
    return "json" if file.suffix.lower() in JSON_SUFFIXES else "yaml"


def _fill_file(file: Path, inferred: list[dict[str, Any]]) -> Filled:
    text = _read(file)
    kind = _kind(file)
    data = parse_text(text, kind)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{file}: the source metadata is not an object")
    response = merge_response(list(data.get("response") or []), inferred)
    expected = {**data, "response": response}
    edited = _json_edit(text, response) if kind == "json" else _yaml_edit(text, [], response)
    new_text, note = _checked(edited, expected, kind)
    _write(file, new_text)
    return Filled(file, len(response), _added(data, inferred), False, note)


def _write(file: Path, text: str) -> None:
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {file}: {exc.strerror or exc}") from None


def _added(data: Mapping[str, Any], inferred: Sequence[dict[str, Any]]) -> int:
    before = {item.get("field") for item in data.get("response") or [] if isinstance(item, Mapping)}
    return sum(1 for item in inferred if item["field"] not in before)


def _fill_inline(file: Path, text: str, data: Mapping[str, Any], inferred: list[dict[str, Any]]) -> Filled:
    meta = data["source"]["metadata"]
    response = merge_response(list(meta.get("response") or []), inferred)
    expected = {**data, "source": {**data["source"], "metadata": {**meta, "response": response}}}
    kind = _kind(file)
    edited = _yaml_edit(text, ["source", "metadata"], response) if kind == "yaml" else None
    new_text, note = _checked(edited, expected, kind)
    _write(file, new_text)
    return Filled(file, len(response), _added(meta, inferred), True, note)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None


def _checked(edited: tuple[str, bool] | None, expected: Any, kind: str) -> tuple[str, str]:
    """The edited text when it reads back as ``expected``, else the whole document written anew;
    and a note when comments were lost."""
    if edited is not None:
        new_text, dropped = edited
        try:
            if parse_text(new_text, kind) == expected:
                return new_text, "comments inside the old response were dropped" if dropped else ""
        except DocumentError:
            pass
    note = "the file was written from its parsed form: its comments and layout were not kept"
    if kind == "json":
        return json.dumps(expected, ensure_ascii=False, indent=2) + "\n", note
    return yaml.safe_dump(expected, sort_keys=False, allow_unicode=True), note


def _render(response: list[Any], indent: str) -> str:
    """``[`` one field per line (children nested) ``]``, continuation lines after ``indent``."""
    if not response:
        return "[]"
    lines = [indent + "  " + _one(item, indent + "  ") for item in response]
    return "[\n" + ",\n".join(lines) + "\n" + indent + "]"


def _one(item: Any, indent: str) -> str:
    if not (isinstance(item, Mapping) and item.get("children")):
        return json.dumps(item, ensure_ascii=False)
    head = {k: v for k, v in item.items() if k != "children"}
    text = json.dumps(head, ensure_ascii=False)[:-1]
    return f'{text}, "children": {_render(list(item["children"]), indent)}}}'


# -- JSON / JSONC: replace the top-level "response" value in the text ---------------------------


def _json_edit(text: str, response: list[Any]) -> tuple[str, bool] | None:
    """``(text with its top-level response value replaced or added, whether comments inside
    the old value were dropped)``; ``None`` when the text is not one object."""
    blank = _blank_extensions(text)
    spans = _top_level(blank)
    if spans is None:
        return None
    close_at, members = spans
    indent = _line_indent(blank, members[0][1]) if members else "  "
    rendered = _render(response, indent)
    for key, _, start, end in members:
        if key == "response":
            return text[:start] + rendered + text[end:], text[start:end] != blank[start:end]
    insert_at = len(blank[:close_at].rstrip())
    comma = "" if blank[:insert_at].endswith("{") else ","
    return text[:insert_at] + f'{comma}\n{indent}"response": {rendered}' + text[insert_at:], False


def _line_indent(text: str, at: int) -> str:
    """The white space from the start of ``at``'s line up to ``at`` (two spaces when other
    text comes first)."""
    prefix = text[text.rfind("\n", 0, at) + 1 : at]
    return prefix if not prefix.strip() else "  "


_SCALAR_END = re.compile(r"[,}\]\s]")


def _top_level(blank: str) -> tuple[int, list[tuple[str, int, int, int]]] | None:
    """``(close, [(key, key start, value start, value end)])`` of the top-level object of a
    text whose comments are blanked, or ``None`` when it is not one object."""
    i = _skip_space(blank, 0)
    if not blank.startswith("{", i):
        return None
    i += 1
    members: list[tuple[str, int, int, int]] = []
    while True:
        i = _skip_space(blank, i)
        if blank.startswith("}", i):
            return i, members
        member = _member_at(blank, i)
        if member is None:
            return None
        members.append(member)
        i = _skip_space(blank, member[3])
        if blank.startswith(",", i):
            i += 1


def _member_at(blank: str, i: int) -> tuple[str, int, int, int] | None:
    """``(key, key start, value start, value end)`` of the member at ``i``, or ``None``."""
    if not blank.startswith('"', i):
        return None
    key_end = _string_end(blank, i)
    colon = _skip_space(blank, key_end)
    if not blank.startswith(":", colon):
        return None
    start = _skip_space(blank, colon + 1)
    end = _value_end(blank, start)
    return None if end is None else (json.loads(blank[i:key_end]), i, start, end)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _string_end(text: str, i: int) -> int:
    """Just past the string starting at ``text[i] == '"'``."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j + 1
        j += 1
    return len(text)


def _value_end(text: str, i: int) -> int | None:
    if i >= len(text):
        return None
    if text[i] == '"':
        return _string_end(text, i)
    if text[i] not in "[{":
        m = _SCALAR_END.search(text, i)
        return m.start() if m else len(text)
    depth, j = 0, i
    while j < len(text):
        ch = text[j]
        if ch == '"':
            j = _string_end(text, j)
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return None


# -- YAML: replace the mapping's "response" value in the text ------------------------------------


def _yaml_edit(text: str, keys: list[str], response: list[Any]) -> tuple[str, bool] | None:
    """``(text with the response value of the mapping at keys replaced by a flow sequence,
    whether comments inside the old value were dropped)``; the key is added as the mapping's
    last when missing; ``None`` when that mapping is not found. Other comments are kept."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    for key in keys:
        node = _member(node, key)
        if node is None:
            return None
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == "response":
            indent = " " * (key_node.start_mark.column + 2)
            start = value_node.start_mark.index
            end = start + len(text[start : value_node.end_mark.index].rstrip())
            dropped = bool(_YAML_COMMENT.search(text, start, end))
            return text[:start] + _render(response, indent) + text[end:], dropped
    if not node.value:
        return None
    if node.flow_style:
        close = node.end_mark.index - 1
        indent = " " * (node.start_mark.column + 2)
        return text[:close] + ", response: " + _render(response, indent) + text[close:], False
    first_key = node.value[0][0]
    column = first_key.start_mark.column
    last_value = node.value[-1][1]
    end = last_value.start_mark.index + len(
        text[last_value.start_mark.index : last_value.end_mark.index].rstrip()
    )
    indent = " " * column
    return text[:end] + f"\n{indent}response: " + _render(response, indent + "  ") + text[end:], False


def _member(node: Any, key: str) -> Any:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None
