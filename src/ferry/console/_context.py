"""What every console request works with: the store, the schemes, the actions and the redactor.

The redactor is the last line of invariant 5 (no credentials in the console): every text a
page or the API shows goes through it, masking each secret value of the loaded schemes'
connections and every secret remembered when configuration was loaded (in every form it takes in
text: raw, JSON-escaped, percent-encoded, HTML-escaped) and any password in a URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ferry._redact import redact
from ferry.errors import Issue
from ferry.observe.metrics import render_metrics
from ferry.scheme.model import Scheme
from ferry.store import Store

__all__ = ["Console", "mask_urls"]


def mask_urls(text: str) -> str:
    """Mask passwords in URLs and secret-looking query values."""
    return redact(text)


def _secret_values(conn: Any) -> list[str]:
    method = getattr(conn, "secret_values", None)
    if callable(method):
        return [str(v) for v in method()]
    return []


@dataclass
class Console:
    """The console's collaborators (see :func:`ferry.console.create_app`)."""

    store: Store
    schemes: Callable[[], Mapping[str, Scheme]]
    run_now: Callable[[str], str]
    deliver_now: Callable[[str], str]
    alert_rules: Callable[[], Sequence[Mapping[str, Any]]] | None = None
    load_issues: Callable[[], Mapping[str, Sequence[Issue]]] | None = None
    runner: Any = None
    """The :class:`BackgroundRunner` when the console runs schemes itself, else ``None``."""
    metrics_token: str | None = None
    render_metrics: Callable[[Store], tuple[bytes, str]] = render_metrics
    _cache_key: tuple[int, ...] = field(default=(), repr=False)
    _secrets: tuple[str, ...] = field(default=(), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def loaded(self) -> Mapping[str, Scheme]:
        """The loaded schemes by id."""
        return self.schemes()

    def broken_files(self) -> Mapping[str, Sequence[Issue]]:
        """Scheme files that failed to load, with their issues."""
        return self.load_issues() if self.load_issues is not None else {}

    def scheme_names(self) -> dict[str, str]:
        """Every known scheme's name by id: the store's, overridden by the loaded files'."""
        names = {str(s["id"]): str(s.get("name") or "") for s in self.store.list_schemes()}
        names.update({scheme_id: scheme.name for scheme_id, scheme in self.loaded().items()})
        return names

    def running(self, scheme_id: str) -> bool:
        """Whether this console's own runner is running ``scheme_id``."""
        return bool(self.runner is not None and self.runner.running(scheme_id))

    def secrets(self) -> tuple[str, ...]:
        """Every secret value of the loaded schemes' connections."""
        schemes = list(self.loaded().values())
        key = tuple(id(s) for s in schemes)
        with self._lock:
            if key != self._cache_key or not key:
                found: set[str] = set()
                for scheme in schemes:
                    for conn in (scheme.source_connection, scheme.target_connection):
                        found.update(_secret_values(conn))
                self._secrets = tuple(sorted(found))
                self._cache_key = key
            return self._secrets

    def redactor(self) -> Callable[[str], str]:
        """A function masking secrets in a text (snapshot of the current schemes): theirs and
        every remembered one, in every form (:func:`ferry._redact.redact`), and URL passwords."""
        values = self.secrets()

        def redact_secrets(text: str) -> str:
            return redact(text, values)

        return redact_secrets
