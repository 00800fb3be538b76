"""Scheme files as the console sees them: loaded, or the issues that kept them from loading.

:class:`SchemeFiles` reloads a file when it (or its metadata or connections file) changes, so
an operator fixing a scheme sees the new flow and validation without restarting the console.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ferry.errors import ConfigError, Issue, SchemeError
from ferry.scheme.model import Scheme

__all__ = ["SchemeFiles"]


class SchemeFiles:
    """The schemes of ``paths``, loaded with :func:`ferry.scheme.loader.load_scheme`.

    ``schemes()`` maps scheme id -> Scheme for the files that load; ``issues()`` maps the
    path of each file that does not to its issues. Both reload changed files first.
    """

    def __init__(self, paths: Sequence[Path | str]) -> None:
        self.paths = [Path(p) for p in paths]
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] | None = None
        self._schemes: dict[str, Scheme] = {}
        self._issues: dict[str, list[Issue]] = {}

    def _stamps(self) -> tuple[float, ...]:
        out: list[float] = []
        for path in self.paths:
            folder = path.parent
            try:
                out.append(path.stat().st_mtime)
                out += sorted(f.stat().st_mtime for f in folder.iterdir() if f.is_file())
            except OSError:
                out.append(-1.0)
        return tuple(out)

    def _refresh(self) -> None:
        with self._lock:
            stamp = self._stamps()
            if stamp == self._stamp:
                return
            from ferry.scheme.loader import load_scheme

            schemes: dict[str, Scheme] = {}
            issues: dict[str, list[Issue]] = {}
            for path in self.paths:
                try:
                    scheme = load_scheme(path)
                except SchemeError as exc:
                    issues[str(path)] = list(exc.issues) or [Issue("", str(exc))]
                    continue
                except ConfigError as exc:
                    issues[str(path)] = [Issue("", str(exc))]
                    continue
                if scheme.id in schemes:
                    issues[str(path)] = [
                        Issue("id", f"scheme id {scheme.id!r} is also the id of another file", scheme.id)
                    ]
                    continue
                schemes[scheme.id] = scheme
            self._schemes, self._issues, self._stamp = schemes, issues, stamp

    def schemes(self) -> Mapping[str, Scheme]:
        """Loaded schemes by id."""
        self._refresh()
        return dict(self._schemes)

    def issues(self) -> Mapping[str, list[Issue]]:
        """Issues of each file that failed to load, by path."""
        self._refresh()
        return dict(self._issues)
