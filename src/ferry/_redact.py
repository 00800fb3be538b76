"""Masking secrets in text that leaves Ferry: logs, run events, alerts, pages and CLI output.

One rule set for every place (docs/architecture.md, invariant 5): known secret values, passwords in URLs
(``mysql://u:***@h/db``) and secret-looking query values (``?token=***``) become ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "MIN_SECRET", "redact"]

MASK = "***"
MIN_SECRET = 4
"""Shorter secret values are not masked by default (they would mask ordinary text)."""

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][\w+.-]*://[^/@:\s?#]*:)(?P<pw>[^@/\s?#]+)(?P<tail>@)")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|passwd|pwd|secret|token|key|api_key|access_token|app_secret|session|sign)=)"
    r"[^&#\s\"]*"
)


def redact(text: str, secrets: Iterable[str] = (), *, min_length: int = MIN_SECRET) -> str:
    """``text`` with every value of ``secrets`` (of at least ``min_length`` characters, longest
    first), URL passwords and secret-looking query values replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= min_length}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('tail')}", text)
    return _QUERY_SECRET.sub(rf"\1{MASK}", text)
