"""Reading a scheme's value maps (值映射) into :class:`~ferry.expr.valuemap.ValueMap` tables.

A table comes from a file beside the scheme or from the scheme itself::

    maps/shops.csv                 # found by itself: table `shops`, first column -> second
    maps:                          # in scheme.yaml
      shops: {unmatched: quarantine}                       # maps/shops.* with a policy
      regions: {file: ref/regions.xlsx, sheet: 区域, from: code, to: name}
      status: {entries: {"1": paid, "2": shipped}, unmatched: {default: other}}

- CSV is read as UTF-8 (a BOM is fine); another encoding (GBK from Excel) is reported with a
  hint, never guessed. The first row names the columns.
- XLSX is read with openpyxl in read-only mode (cached values of formulas), the first sheet or
  ``sheet``; the first row names the columns. ``101.0`` in a cell matches ``101``.
- YAML is one mapping ``key: value``.

Keys are compared as text (:func:`ferry.expr.valuemap.key_text`: trimmed, case kept). A key
that appears twice (after that), an empty key cell beside a value, an empty table, a missing
file and an unknown column are errors located at ``maps.<name>``; blank rows are skipped.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ferry._text import printable, shown
from ferry.errors import Issue
from ferry.expr.valuemap import Unmatched, ValueMap, key_text
from ferry.scheme._bounds import MAX_YAML_BYTES, BoundedYamlLoader
from ferry.scheme._documents import DocumentError, _read_bytes
from ferry.scheme.model import UnmatchedDefault, ValueMapSpec

__all__ = ["MAP_SUFFIXES", "load_value_maps"]

MAP_SUFFIXES = (".csv", ".xlsx", ".yaml", ".yml")
MAPS_DIR = "maps"
_NAME = re.compile(r"^[\w-]+$")
_TABULAR = (".csv", ".xlsx")

Row = tuple[str, Any, Any]
"""Where a row is (``row 3``, ``line 4``, ``key 'A'``), its key as read and its value."""


class _TableError(Exception):
    """A table that cannot be read: at ``maps.<name>`` plus ``key``, with a hint."""

    def __init__(self, message: str, key: str = "", hint: str | None = None, got: Any = None) -> None:
        super().__init__(message)
        self.message, self.key, self.hint, self.got = message, key, hint, got


def load_value_maps(
    specs: Mapping[str, ValueMapSpec], base_dir: Path, *, discover: bool = True
) -> tuple[dict[str, ValueMap], list[Issue]]:
    """Read every value map of a scheme: those declared under ``maps`` and, with ``discover``,
    each ``maps/<name>.csv|.xlsx|.yaml|.yml`` beside the scheme (``base_dir``).

    Returns:
        ``(tables by name, issues)``; a table with an issue is there, empty: the scheme is
        invalid anyway, and its ``_map`` values are not reported as naming an unknown map.
    """
    found, issues = _discovered(base_dir) if discover else ({}, [])
    tables: dict[str, ValueMap] = {}
    for name in sorted({*found, *specs}):
        spec = specs.get(name) or ValueMapSpec()
        try:
            tables[name] = _table(name, spec, found.get(name), base_dir)
        except _TableError as exc:
            where = f"maps.{name}" + (f".{exc.key}" if exc.key else "")
            issues.append(Issue(where, exc.message, exc.got, exc.hint))
            # Known by name (empty), so the values using it are not reported again as naming
            # an unknown map; the issue keeps the scheme from loading.
            tables[name] = ValueMap(name, {}, origin="(unreadable)")
    return tables, issues


def _discovered(base_dir: Path) -> tuple[dict[str, Path], list[Issue]]:
    folder = base_dir / MAPS_DIR
    if not folder.is_dir():
        return {}, []
    found: dict[str, Path] = {}
    issues: list[Issue] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in MAP_SUFFIXES or path.name.startswith((".", "~$")):
            continue
        other = found.setdefault(path.stem, path)
        if other is not path:
            issues.append(
                Issue(
                    f"maps.{path.stem}",
                    f"two files for one value map: {MAPS_DIR}/{other.name} and {MAPS_DIR}/{path.name}",
                    None,
                    "keep one of them, or rename one (the file name is the map's name)",
                )
            )
    return found, issues


def _table(name: str, spec: ValueMapSpec, discovered: Path | None, base_dir: Path) -> ValueMap:
    if not _NAME.match(name):
        raise _TableError(
            "a value map's name is letters, digits, _ and -", got=name, hint="rename the map or its file"
        )
    unmatched = _unmatched(spec)
    if spec.entries is not None:
        if spec.file is not None:
            raise _TableError("give either file or entries, not both", hint="remove one of them")
        _no_columns(spec, "inline entries")
        rows = [(f"key {shown(key, 40)}", key, value) for key, value in spec.entries.items()]
        return ValueMap(name, _entries(rows), unmatched, "inline")
    path, origin = _where(name, spec, discovered, base_dir)
    entries = _entries(_rows(path, spec))
    return ValueMap(name, entries, unmatched, origin)


def _unmatched(spec: ValueMapSpec) -> Unmatched:
    policy = spec.unmatched
    if isinstance(policy, UnmatchedDefault):
        return Unmatched("default", policy.default)
    return Unmatched(policy)


def _where(name: str, spec: ValueMapSpec, discovered: Path | None, base_dir: Path) -> tuple[Path, str]:
    """The table's file and how it is shown (relative to the scheme's folder when inside it)."""
    if spec.file is None:
        if discovered is None:
            raise _TableError(
                f"no file or entries, and no {MAPS_DIR}/{name}.csv (.xlsx, .yaml, .yml) beside the scheme",
                hint=f"write file: {MAPS_DIR}/{name}.csv, or entries: {{A: B}}",
            )
        return discovered, f"{MAPS_DIR}/{discovered.name}"
    path = Path(spec.file)
    path = path if path.is_absolute() else base_dir / path
    if path.suffix.lower() not in MAP_SUFFIXES:
        raise _TableError(
            f"unsupported file type {path.suffix or '(none)'!r}",
            "file",
            "a value map is a .csv (UTF-8), .xlsx, .yaml or .yml file; save an .xls as .xlsx",
            spec.file,
        )
    return path, spec.file


def _no_columns(spec: ValueMapSpec, what: str) -> None:
    for key, value in (("from", spec.from_), ("to", spec.to), ("sheet", spec.sheet)):
        if value is not None:
            raise _TableError(
                f"{key} names a column or sheet of a .csv/.xlsx file; {what} have none", key, "remove it"
            )


def _rows(path: Path, spec: ValueMapSpec) -> list[Row]:
    suffix = path.suffix.lower()
    if suffix not in _TABULAR:
        _no_columns(spec, "YAML maps")
    try:
        raw = _read_bytes(path)
    except DocumentError as exc:
        raise _TableError(exc.describe(), "file" if spec.file else "", exc.hint) from None
    if suffix == ".csv":
        if spec.sheet is not None:
            raise _TableError("a CSV file has no sheets", "sheet", "remove sheet")
        return _columns(_csv_rows(raw, path), spec, "row")
    if suffix == ".xlsx":
        return _columns(_xlsx_rows(raw, path, spec.sheet), spec, "row")
    return _yaml_rows(raw, path)


def _csv_rows(raw: bytes, path: Path) -> Iterator[list[Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _TableError(
            f"{printable(path.name)} is not UTF-8 ({exc.reason} at byte {exc.start:,})"
            + (" -- it reads as GBK/GB18030" if _is_gbk(raw) else ""),
            hint="save it as UTF-8 (Excel: Save As > CSV UTF-8), or as .xlsx",
        ) from None
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise _TableError(f"{printable(path.name)} is not valid CSV: {exc}") from None


def _is_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _xlsx_rows(raw: bytes, path: Path, sheet: str | None) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # a heavy import, made only when an .xlsx is read
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise _TableError(
            f"{printable(path.name)} cannot be read as an .xlsx workbook: {exc}",
            hint="save it from Excel or WPS as .xlsx (Excel Workbook)",
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise _TableError(
                f"no sheet {sheet!r} in {printable(path.name)}",
                "sheet",
                f"its sheets: {', '.join(book.sheetnames)}",
            )
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        for row in worksheet.iter_rows(values_only=True):
            yield [_cell(value) for value in row]
    finally:
        book.close()


def _cell(value: Any) -> Any:
    """A cell's value: a whole float as an int (Excel stores every number as a double),
    an empty cell as ``""``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _columns(rows: Iterable[list[Any]], spec: ValueMapSpec, unit: str) -> list[Row]:
    """``(row N, key, value)`` of a table whose first row names its columns."""
    iterator = iter(rows)
    header = [key_text(cell) for cell in next(iterator, [])]
    key_at = _column(header, spec.from_, 0, "from")
    value_at = _column(header, spec.to, 1, "to")
    out: list[Row] = []
    for number, row in enumerate(iterator, start=2):
        if not any(key_text(cell) for cell in row):
            continue  # a blank row
        cells = [*row, *[""] * (max(key_at, value_at) + 1 - len(row))]
        out.append((f"{unit} {number}", cells[key_at], cells[value_at]))
    return out


def _column(header: list[str], wanted: str | None, default: int, key: str) -> int:
    if wanted is None:
        if len(header) < 2:
            raise _TableError(
                f"the table needs two columns, the key and the value; its first row has {len(header)}",
                hint="write a header row such as: code,name",
            )
        return default
    if wanted in header:
        return header.index(wanted)
    near = difflib.get_close_matches(wanted, header, n=1)
    raise _TableError(
        f"no column {wanted!r}" + (f" (did you mean {near[0]!r}?)" if near else ""),
        key,
        f"the first row names the columns: {', '.join(repr(h) for h in header) or '(none)'}",
    )


def _yaml_rows(raw: bytes, path: Path) -> list[Row]:
    if len(raw) > MAX_YAML_BYTES:
        raise _TableError(
            f"{printable(path.name)} is larger than {MAX_YAML_BYTES:,} bytes",
            hint="write a large map as .csv or .xlsx",
        )
    try:
        loader = BoundedYamlLoader(raw.decode("utf-8-sig"))
        try:
            node = loader.get_single_node()
            pairs = node.value if isinstance(node, yaml.MappingNode) else None
            if pairs is None:
                raise _TableError(f"{printable(path.name)} must be one mapping of key: value")
            return [
                (
                    f"line {k.start_mark.line + 1}",
                    loader.construct_object(k, deep=True),
                    loader.construct_object(v, deep=True),
                )
                for k, v in pairs
            ]
        finally:
            loader.dispose()
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise _TableError(f"{printable(path.name)} is not valid UTF-8 YAML: {exc}") from None


def _entries(rows: list[Row]) -> dict[str, Any]:
    """The table by key text. Raises _TableError for an empty key, a key twice or no row."""
    entries: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for where, key, value in rows:
        text = key_text(key)
        if not text:
            raise _TableError(
                f"{where}: the key is empty (its value is {shown(value, 40)})",
                hint="fill in the key or delete the row; an empty value is never looked up",
            )
        first = seen.get(text)
        if first is not None:
            raise _TableError(
                f"key {text!r} appears twice: {first} and {where}",
                hint="keep one row per key (keys are compared as trimmed text: 101, 101.0 and ' 101' are one)",
            )
        seen[text] = where
        entries[text] = value
    if not entries:
        raise _TableError("the value map is empty", hint="add at least one row under the header")
    return entries
