"""Reading scheme and metadata documents (JSON, JSONC/JSON5, YAML) with located syntax errors.

QEasy users paste metadata from the web console, often with ``//`` comments or trailing commas,
so JSON is read strictly first (fast) and then with :mod:`json5` (lenient). A document that
neither accepts is reported with the line and column json5 or PyYAML points at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import json5
import yaml

__all__ = ["JSON_SUFFIXES", "YAML_SUFFIXES", "DocumentError", "parse_text", "read_document"]

JSON_SUFFIXES = (".json", ".jsonc", ".json5")
YAML_SUFFIXES = (".yaml", ".yml")
_NON_SPACE = re.compile(r"\S")
_JSON5_POS = re.compile(r"^<string>:(?P<line>\d+)\s+(?P<msg>.*?)\s+at column (?P<col>\d+)\s*$", re.DOTALL)


class DocumentError(Exception):
    """A document cannot be read or parsed.

    Attributes:
        message: what went wrong, without the location.
        line: 1-based line of the syntax error, if known.
        column: 1-based column of the syntax error, if known.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        """``message (line L, column C)``."""
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.message} ({where})"


def _scan_strings(text: str) -> list[bool]:
    """For each offset of ``text``: is it inside a double-quoted string (quotes included)?"""
    inside = [False] * len(text)
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            inside[i : j + 1] = [True] * (min(j, n - 1) - i + 1)
            i = j + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            i += 1
    return inside


def _blank_extensions(text: str) -> str:
    """Replace ``//``/``/* */`` comments and trailing commas by spaces, keeping every offset.

    Strict JSON then parses the JSONC text and, when it fails, its line and column point at the
    real mistake in the user's file (json5's own positions are often at the end of the line).
    """
    inside = _scan_strings(text)
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if not inside[i] and text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif not inside[i] and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = ["\n" if ch == "\n" else " " for ch in text[i:end]]
            i = end
        else:
            i += 1
    blanked = "".join(out)
    for i, ch in enumerate(blanked):
        if ch != "," or inside[i]:
            continue
        nxt = _NON_SPACE.search(blanked, i + 1)
        j = i - 1
        while j >= 0 and blanked[j].isspace():
            j -= 1
        if nxt is not None and nxt.group() in "}]" and (j < 0 or blanked[j] not in ",[{"):
            out[i] = " "
    return "".join(out)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json5.loads(text)
    except ValueError as exc:
        json5_error = exc
    try:
        json.loads(_blank_extensions(text))
    except json.JSONDecodeError as exc:
        msg = exc.msg[:1].lower() + exc.msg[1:]
        raise DocumentError(f"invalid JSON: {msg}", exc.lineno, exc.colno) from exc
    m = _JSON5_POS.match(str(json5_error))
    if m:
        msg = m.group("msg")
        raise DocumentError(
            f"invalid JSON: {msg[:1].lower() + msg[1:]}", int(m.group("line")), int(m.group("col"))
        ) from json5_error
    raise DocumentError(f"invalid JSON: {json5_error}") from json5_error


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = exc.problem or exc.context or "syntax error"
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        raise DocumentError(f"invalid YAML: {problem}", line, col) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from exc


def parse_text(text: str, kind: str | None = None) -> Any:
    """Parse ``text`` as ``"json"`` (JSON5 accepted) or ``"yaml"``.

    With ``kind=None`` text that starts with ``{`` or ``[`` (after comments) is JSON, else YAML.

    Raises:
        DocumentError: the text is not valid in that syntax (with line and column).
    """
    if kind is None:
        stripped = re.sub(r"^(\s*(//[^\n]*|/\*.*?\*/))*\s*", "", text, flags=re.DOTALL)
        kind = "json" if stripped.startswith(("{", "[")) else "yaml"
    return _parse_json(text) if kind == "json" else _parse_yaml(text)


def read_document(path: Path) -> Any:
    """Read and parse the file at ``path``; the suffix picks the syntax (unknown: sniffed).

    Raises:
        DocumentError: the file is missing, unreadable, not UTF-8, or not parseable.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DocumentError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise DocumentError(f"{path} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    kind = "json" if suffix in JSON_SUFFIXES else "yaml" if suffix in YAML_SUFFIXES else None
    return parse_text(text, kind)
