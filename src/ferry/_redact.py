"""Masking secrets in text that leaves Ferry: logs, run events, alerts, pages, CLI output, the store.

One rule set for every place (docs/architecture.md, invariant 5): no credential in any output. Three things become ``***``:

- **Known secret values.** Every value that came from a ``${VAR}``, every ``headers:`` value,
  every ``SecretStr`` field and every URL password of a loaded connection is remembered when
  the connection is loaded (:func:`remember_secrets`), and :func:`redact` replaces it wherever
  it appears, in the forms it takes in text: as written, JSON- and ``repr``-escaped,
  percent-encoded and HTML-escaped. Values shorter than :data:`MIN_SECRET` characters are not
  replaced in arbitrary text (a header ``X-Tenant: 1`` would otherwise mask every ``1``);
  such a value is still never printed as the value of its field (next point; the connection
  loader never quotes a secret field or a ``${VAR}`` value in an error), and a URL password
  is masked whatever its length.
- **Values of credential names** (``headers:`` names, an auth query parameter's name), whatever
  their length: ``X-Tenant: 7``, ``"x-tenant": "7"``, ``'X-Tenant': '7'``, ``x-tenant=7``.
- **URL passwords**, found by SQLAlchemy's own URL parser (:func:`mask_url`), so a password
  holding ``/``, ``#``, ``?``, ``:``, quotes or a percent-encoded ``@`` or ``%`` is masked exactly
  as SQLAlchemy reads it: ``mysql+pymysql://app:p/s#s?@db/erp`` -> ``mysql+pymysql://app:***@db/erp``.
- **Secret-looking query values**: ``?token=...``, ``&app_secret=...``, ``&sign=...``.

    remember_secrets(["s3cret-value"], names=["X-Tenant"])   # done by the connection loader
    redact("login failed for s3cret-value at mysql://u:p%40ss@h/db")
    # 'login failed for *** at mysql://u:***@h/db'
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "MIN_SECRET",
    "forget_secrets",
    "known_secrets",
    "mask_url",
    "redact",
    "remember_secrets",
    "secret_forms",
    "url_password",
]

MASK = "***"
MIN_SECRET = 4
"""Shorter secret values are not replaced in arbitrary text (they would mask ordinary text)."""

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"<>]+")
"""A URL candidate in text: a scheme, ``://`` and everything up to white space, ``"``, ``<``
or ``>`` (so a URL inside JSON or HTML never swallows the text after it)."""
_TRAILING = "'\"()[]{}<>,;."
"""Punctuation that ends a URL candidate in prose or a quoted repr, not part of the URL."""
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|passwd|pwd|secret|token|key|api_key|access_token|app_secret|session|sign)=)"
    r"[^&#\s\"\\]*"
)
"""A secret-looking query value, up to ``&``, ``#``, white space, ``"`` or ``\\`` (a JSON escape)."""

_lock = threading.Lock()
_known: frozenset[str] = frozenset()
_known_names: frozenset[str] = frozenset()


def remember_secrets(values: Iterable[str], *, names: Iterable[str] = ()) -> None:
    """Add ``values`` to the secrets :func:`redact` masks in this process from now on, and
    ``names`` to the credential names (header and query parameter names, case-insensitive)
    whose value is masked whatever its length, wherever text shows it as ``name: value``,
    ``name=value`` or ``"name": "value"`` (a server echoing the request's headers).

    Called where configuration is loaded (connections, alert channels); empty values are ignored.
    """
    global _known, _known_names
    new = {str(v) for v in values if v}
    new_names = {str(n).lower() for n in names if n}
    if new <= _known and new_names <= _known_names:
        return
    with _lock:
        _known = _known | new
        _known_names = _known_names | new_names


def forget_secrets() -> None:
    """Forget every remembered secret and name (tests start each case from an empty set)."""
    global _known, _known_names
    with _lock:
        _known = _known_names = frozenset()


def known_secrets() -> frozenset[str]:
    """The secret values remembered so far."""
    return _known


def secret_forms(value: str) -> set[str]:
    """``value`` as it may appear in text: as written, inside a JSON string or a Python repr,
    percent-encoded (URL and form encodings) and HTML-escaped."""
    forms = {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
        quote(value, safe=""),
        quote(value, safe="/"),
        quote_plus(value, safe=""),
        html.escape(value, quote=True),
        html.escape(value, quote=False),
        _markup_escape(value),
    }
    return {f for f in forms if f}


def _markup_escape(value: str) -> str:
    """``value`` as Jinja's autoescape (MarkupSafe) writes it."""
    for char, entity in (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;"), ("'", "&#39;"), ('"', "&#34;")):
        value = value.replace(char, entity)
    return value


@lru_cache(maxsize=128)
def _pattern(secrets: frozenset[str], min_length: int) -> re.Pattern[str] | None:
    """One alternation of every form of every secret, longest first (so a secret inside
    another is not masked half)."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= min_length:
            forms |= secret_forms(secret)
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def url_password(url: str) -> str | None:
    """The password of ``url`` as SQLAlchemy reads it (percent-decoded), or ``None``."""
    if _userinfo(url) is None:
        return None
    try:
        return _parse_url(url).password
    except ValueError:
        return None


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """``(scheme, user, rest after the user's colon)`` when ``url`` may hold a password: SQLAlchemy
    reads one only as ``scheme://user:password@...`` (a user without ``/``)."""
    head, sep, rest = url.partition("://")
    user, colon, after = rest.partition(":")
    if not sep or not colon or "@" not in after or "/" in user:
        return None
    return head, user, after


def _parse_url(url: str) -> Any:
    """SQLAlchemy's parse of ``url`` (imported here: loading a connection imports no driver).

    Raises:
        ValueError: SQLAlchemy cannot parse it.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, where SQLAlchemy's parser finds it.

    ``mysql+pymysql://app:p/s#s?@db:3306/erp`` -> ``mysql+pymysql://app:***@db:3306/erp``, the
    same as ``make_url(url).render_as_string(hide_password=True)`` but leaving every other
    character as written. A raw ``@`` in a password (SQLAlchemy splits at the first one and
    would take the rest for the host) is masked up to the last ``@`` of the host; a URL
    SQLAlchemy cannot parse (its port is not a number) is masked up to its last ``@``. A URL
    without a password is returned unchanged; secret-looking query values are masked always.
    """
    return _QUERY_SECRET.sub(rf"\1{MASK}", _mask_password(url))


def _mask_password(url: str) -> str:
    parts = _userinfo(url)
    if parts is None:
        return url
    head, user, after = parts
    try:
        parsed = _parse_url(url)
    except ValueError:
        end = after.rindex("@")
    else:
        if parsed.password is None:
            return url
        end = after.index("@")
        if parsed.host and "@" in parsed.host:
            end += 1 + len(parsed.host.rpartition("@")[0])
    if after[:end] == MASK:
        return url
    return f"{head}://{user}:{MASK}{after[end:]}"


def _mask_candidate(match: re.Match[str]) -> str:
    text = match.group(0)
    url = text.rstrip(_TRAILING)
    return _mask_password(url) + text[len(url) :]


@lru_cache(maxsize=32)
def _name_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    """``name: value``, ``name=value``, ``"name": "value"`` and ``'name': 'value'`` for each name."""
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"""(?P<key>(?<![\w-])(?P<q>\\?["']|)(?:{alternatives})(?P=q)\s*[:=]\s*)"""
        r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\\"(?:[^"\\]|\\[^"])*\\"|[^\s&,;"'<>}\]\\]+)""",
        re.IGNORECASE,
    )


def _mask_named(match: re.Match[str]) -> str:
    value = match.group(0)[len(match.group("key")) :]
    quoted = next((q for q in ('\\"', '"', "'") if value.startswith(q)), "")
    return f"{match.group('key')}{quoted}{MASK}{quoted}"


def _with(known: frozenset[str], extra: Iterable[str]) -> frozenset[str]:
    """``known`` plus ``extra``; ``known`` itself when ``extra`` adds nothing (the usual case:
    a connection's secrets were remembered when it was loaded), so the pattern cache hits."""
    more = frozenset(extra)
    return known if more <= known else known | more


def redact(
    text: str, secrets: Iterable[str] = (), *, names: Iterable[str] = (), min_length: int = MIN_SECRET
) -> str:
    """``text`` with every remembered secret and every value of ``secrets`` (each of at least
    ``min_length`` characters, in every form of :func:`secret_forms`), the value of every
    remembered credential name and of ``names``, URL passwords and secret-looking query values
    replaced by ``***``."""
    pattern = _pattern(_with(_known, (s for s in secrets if s)), min_length)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    named = _name_pattern(_with(_known_names, (str(n).lower() for n in names if n)))
    if named is not None:
        text = named.sub(_mask_named, text)
    if "://" in text:
        text = _URL.sub(_mask_candidate, text)
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\1{MASK}", text)
    return text
