"""Env files: ``KEY=VALUE`` lines for the ``${VAR}`` references of connections files.

``ferry --env-file FILE COMMAND`` reads one before the command runs (variables already set in
the environment win, so one can be overridden for a single call); ``ferry sandbox --write-env
FILE`` writes one. The format is the one shells and Docker read::

    # comment
    K3CLOUD_URL=http://127.0.0.1:8700/k3cloud
    export KUAIMAI_APP_KEY=km-demo-key
    BI_MYSQL_URL='mysql+pymysql://root@127.0.0.1:3306/bi?charset=utf8mb4'

A value may be quoted ('...' literally, "..." with backslash escapes); an unquoted value ends
at `` #`` (a comment). Written files quote every value that needs it, so ``set -a; . FILE``
reads them too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ferry.errors import ConfigError

__all__ = ["load_env_file", "read_env_file", "write_env_file"]

_LINE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")
_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


def _value(raw: str) -> str | None:
    """The value of one line's right-hand side, or ``None`` when its quotes do not close."""
    if raw[:1] == "'":
        end = raw.find("'", 1)
        return None if end < 0 else raw[1:end]
    if raw[:1] == '"':
        out: list[str] = []
        i = 1
        while i < len(raw):
            char = raw[i]
            if char == "\\" and i + 1 < len(raw):
                out.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
                continue
            if char == '"':
                return "".join(out)
            out.append(char)
            i += 1
        return None
    return re.split(r"\s+#", raw, maxsplit=1)[0]


def read_env_file(path: str | Path) -> dict[str, str]:
    """The variables of an env file, in file order (a later line wins).

    Raises:
        ConfigError: The file cannot be read, or a line is neither blank, a ``#`` comment nor
            ``KEY=VALUE`` (the message names the line; never its value).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(
            f"cannot read the env file {file}: {reason}\n"
            "  hint: pass an existing file of KEY=VALUE lines (`ferry sandbox --write-env FILE` writes one)"
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        value = _value(match.group("value")) if match else None
        if match is None or value is None:
            raise ConfigError(
                f"{file}:{number}: not a KEY=VALUE line\n"
                "  hint: write NAME=value (quote values with spaces: NAME='a b'); # starts a comment"
            )
        values[match.group("key")] = value
    return values


def load_env_file(path: str | Path, environ: dict[str, str] | None = None) -> list[str]:
    """Put the file's variables into ``environ`` (default ``os.environ``) unless already set there.

    Returns:
        The names it set (those the environment already had are left alone).

    Raises:
        ConfigError: See :func:`read_env_file`.
    """
    target = os.environ if environ is None else environ
    added = []
    for key, value in read_env_file(path).items():
        if key not in target:
            target[key] = value
            added.append(key)
    return added


def _quoted(value: str) -> str:
    if _SAFE.match(value):
        return value
    if "'" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


def write_env_file(path: str | Path, values: Mapping[str, str], *, header: str = "") -> Path:
    """Write ``values`` as an env file (``header`` lines become comments), atomically.

    The file is created readable by its owner only: it holds credentials.
    """
    file = Path(path)
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"{key}={_quoted(str(value))}" for key, value in values.items()]
    partial = file.with_name(f".{file.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(partial, file)
    return file
