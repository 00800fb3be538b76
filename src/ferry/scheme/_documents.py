"""Reading scheme and metadata documents (JSON, JSONC/JSON5, YAML) with located syntax errors.

QEasy users paste metadata from the web console, often with ``//`` comments or trailing commas,
so JSON is read strictly first (fast), then as JSONC (comments and trailing commas blanked out,
offsets kept) and, for files up to :data:`~ferry.scheme._bounds.JSON5_MAX_CHARS`, with
:mod:`json5` (lenient but slow). A document that none accepts is reported with the line and
column of the strict parser on the JSONC text, or of PyYAML.

What a document may be at all (a regular file, its size, nesting and numbers) is checked here
too, with the limits of :mod:`ferry.scheme._bounds`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import json5
import yaml

from ferry._text import printable
from ferry.scheme._bounds import (
    DEPTH_HINT,
    JSON5_MAX_CHARS,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_YAML_BYTES,
    BoundedYamlLoader,
    TooDeep,
    first_bad_value,
    json_int,
    json_too_deep,
)

__all__ = ["JSON_SUFFIXES", "YAML_SUFFIXES", "DocumentError", "parse_text", "read_document"]

JSON_SUFFIXES = (".json", ".jsonc", ".json5")
YAML_SUFFIXES = (".yaml", ".yml")
_FILE_HINT = "give the path of a scheme (.yaml) or QEasy metadata (.json) file"
_SIZE_HINT = "scheme and metadata files are a few kilobytes: check that this is the right file"


class DocumentError(Exception):
    """A document cannot be read or parsed.

    Attributes:
        message: what went wrong, without the location.
        line: 1-based line of the syntax error, if known.
        column: 1-based column of the syntax error, if known.
        path: where in the parsed document a bad value is (``request[1].value``), if known.
        hint: what to do, when the error is not about syntax or the file's path.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        *,
        path: str = "",
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        """``message (line L, column C)``."""
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.message} ({where})"


_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"?'
_COMMENTS = re.compile(_STRING + r"|//[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_TRAILING_COMMAS = re.compile(_STRING + r"|,(?=\s*[\]}])")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank_comment(match: re.Match[str]) -> str:
    token = match.group()
    return token if token.startswith('"') else _NOT_NEWLINE.sub(" ", token)


def _blank_extensions(text: str) -> str:
    """Replace ``//``/``/* */`` comments and trailing commas by spaces, keeping every offset.

    Strict JSON then parses the JSONC text and, when it fails, its line and column point at the
    real mistake in the user's file (json5's own positions are often at the end of the line).
    A comma right after ``[``, ``{`` or another comma is kept, so ``[,]`` stays an error.
    """
    blanked = _COMMENTS.sub(_blank_comment, text)

    def trailing(match: re.Match[str]) -> str:
        token = match.group()
        if token != ",":
            return token
        before = match.start() - 1
        while before >= 0 and blanked[before].isspace():
            before -= 1
        return token if before < 0 or blanked[before] in ",[{" else " "

    return _TRAILING_COMMAS.sub(trailing, blanked)


def _strict(text: str) -> Any:
    """:func:`json.loads`, keeping an integer too long for ``int()`` as a stand-in."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer beyond Python's digit limit
        return json.loads(text, parse_int=json_int)


def _located(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def _parse_json(text: str) -> Any:
    deep = json_too_deep(text)
    if deep is not None:
        line, column = _located(text, deep)
        raise DocumentError(f"nesting deeper than {MAX_DEPTH} levels", line, column, hint=DEPTH_HINT)
    try:
        return _strict(text)
    except json.JSONDecodeError:
        pass
    try:
        return _strict(_blank_extensions(text))
    except json.JSONDecodeError as exc:
        strict_error = exc
    if len(text) <= JSON5_MAX_CHARS:
        try:
            return json5.loads(text)
        except ValueError:
            pass
    msg = strict_error.msg[:1].lower() + strict_error.msg[1:]
    raise DocumentError(f"invalid JSON: {msg}", strict_error.lineno, strict_error.colno) from None


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=BoundedYamlLoader)  # a SafeLoader subclass
    except TooDeep as exc:
        raise DocumentError(str(exc), exc.mark.line + 1, exc.mark.column + 1, hint=DEPTH_HINT) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        problem = exc.problem or exc.context or "syntax error"
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        raise DocumentError(f"invalid YAML: {problem}", line, col) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from exc


def _sniff(text: str) -> str:
    """``"json"`` when ``text`` starts with ``{`` or ``[`` after comments, else ``"yaml"``."""
    stripped = re.sub(r"^(\s*(//[^\n]*|/\*.*?\*/))*\s*", "", text, count=1, flags=re.DOTALL)
    return "json" if stripped.startswith(("{", "[")) else "yaml"


def parse_text(text: str, kind: str | None = None) -> Any:
    """Parse ``text`` as ``"json"`` (JSONC and JSON5 accepted) or ``"yaml"``.

    With ``kind=None`` text that starts with ``{`` or ``[`` (after comments) is JSON, else YAML.

    Raises:
        DocumentError: the text is not valid in that syntax (with line and column), nests
            too deep, or holds a number Ferry cannot keep (with its path).
    """
    kind = kind or _sniff(text)
    data = _parse_json(text) if kind == "json" else _parse_yaml(text)
    bad = first_bad_value(data)
    if bad is not None:
        path, problem, hint = bad
        raise DocumentError(problem, path=path, hint=hint)
    return data


def _shown_path(path: Path | str) -> str:
    """A path as a message can print it: control characters escaped, cut to a readable length."""
    return printable(str(path), 300)


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _read_bytes(path: Path) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_BYTES`.

    The file is checked with ``os.stat`` before it is opened, so a FIFO (which would block)
    or a device (which never ends) is refused unopened; it is opened non-blocking and checked
    again, in case it was swapped meanwhile.
    """
    shown = _shown_path(path)
    try:
        info = os.stat(path)
    except ValueError:
        raise DocumentError(f"cannot read {shown}: the path contains a NUL byte", hint=_FILE_HINT) from None
    except FileNotFoundError:
        raise DocumentError(f"file not found: {shown}") from None
    except OSError as exc:
        raise DocumentError(f"cannot read {shown}: {exc.strerror}") from None
    kind = _KINDS.get(stat.S_IFMT(info.st_mode))
    if kind == "a directory":
        raise DocumentError(f"{shown} is a directory, not a file", hint=_FILE_HINT)
    if kind is not None:
        raise DocumentError(f"{shown} is {kind}, not a regular file", hint=_FILE_HINT)
    if info.st_size > MAX_BYTES:
        raise DocumentError(_too_large(shown, info.st_size, MAX_BYTES), hint=_SIZE_HINT)
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise DocumentError(f"{shown} is not a regular file", hint=_FILE_HINT)
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:  # unreadable, or a special file that fails on read (/proc/self/mem)
        raise DocumentError(f"cannot read {shown}: {exc.strerror or exc}", hint=_FILE_HINT) from None
    if len(data) > MAX_BYTES:
        raise DocumentError(_too_large(shown, len(data), MAX_BYTES), hint=_SIZE_HINT)
    return data


def _too_large(shown: str, size: int, limit: int, what: str = "scheme and metadata files") -> str:
    return f"{shown} is too large: {size:,} bytes; Ferry reads {what} up to {limit:,} bytes"


def read_document(path: Path) -> Any:
    """Read and parse the file at ``path``; the suffix picks the syntax (unknown: sniffed).

    Raises:
        DocumentError: the file is missing, not a regular file (a directory, FIFO or device),
            too large, not UTF-8, or not parseable.
    """
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{_shown_path(path.name)} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    suffix = path.suffix.lower()
    kind = "json" if suffix in JSON_SUFFIXES else "yaml" if suffix in YAML_SUFFIXES else None
    kind = kind or _sniff(text)
    if kind == "yaml" and len(raw) > MAX_YAML_BYTES:
        raise DocumentError(
            _too_large(_shown_path(path), len(raw), MAX_YAML_BYTES, "YAML files"),
            hint=_SIZE_HINT + "; write large metadata as JSON",
        )
    return parse_text(text, kind)
