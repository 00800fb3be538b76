"""What a 2xx answer of the generic HTTP connector says besides its records: its status
(``status_path``/``status_ok``, QEasy's ``otherResponse`` ``StatusKey``/``StatusValue``), and
where its records might be when ``records_path`` does not find them.

A status other than ``status_ok`` is classified the way the vendor connectors classify their
result codes (:mod:`ferry.connectors._vendor`), from the status and the vendor's message:

======================================  ==============================================
429, or 频繁 / 限流 / too many / rate    ``ThrottledError``
5xx, 408, or 繁忙 / 稍后 / 超时 / busy   ``RetriableError``
401 / 403, or sign / token / 签名 ...    ``ConfigError``: check the connection's credentials
anything else                           ``ConfigError``: the API refused the request
======================================  ==============================================

Every message names the connection and call, the status path and value, and quotes the
vendor's message (the first of ``msg``, ``message``, ``errmsg`` ... beside the status).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ferry.connectors._dotted import MISSING, get_path
from ferry.connectors.specs import HttpConnection, status_text
from ferry.errors import ConfigError, RetriableError, ThrottledError

__all__ = ["check_status", "records_hint"]

MESSAGE_KEYS = (
    "msg",
    "message",
    "errmsg",
    "errMsg",
    "error_msg",
    "errorMsg",
    "error_message",
    "errorMessage",
    "sub_msg",
    "subMsg",
    "error",
    "description",
    "desc",
    "reason",
)
"""Where a vendor puts its message, looked for beside the status key (in this order)."""

_THROTTLE_WORDS = ("频繁", "限流", "too many", "rate limit", "throttl")
_BUSY_WORDS = ("繁忙", "稍后", "超时", "系统异常", "服务异常", "busy", "timeout", "timed out", "try again")
_AUTH_WORDS = (
    "签名",
    "授权",
    "权限",
    "过期",
    "登录",
    "sign",
    "token",
    "secret",
    "app_key",
    "appkey",
    "unauthori",
    "forbidden",
    "credential",
    "permission",
    "expired",
)


def _message(document: Any, status_path: str) -> str | None:
    """The vendor's message beside the status key (the first non-empty of :data:`MESSAGE_KEYS`)."""
    parent_path = status_path.rpartition(".")[0]
    parent = get_path(document, parent_path)
    if not isinstance(parent, dict):
        return None
    for key in MESSAGE_KEYS:
        value = parent.get(key)
        if isinstance(value, dict):
            value = next((value[k] for k in MESSAGE_KEYS if value.get(k)), None)
        if value not in (None, "", [], {}):
            return str(value)
    return None


_KINDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("throttled", frozenset({"429"}), _THROTTLE_WORDS),
    ("busy", frozenset({"408", *(str(c) for c in range(500, 600))}), _BUSY_WORDS),
    ("auth", frozenset({"401", "403"}), _AUTH_WORDS),
)
"""Each kind of failure, in the order they are tried: the statuses and the words that mean it."""


def _kind(code: str, message: str) -> str:
    """``throttled``, ``busy``, ``auth`` or ``rejected`` from the status and the message."""
    low = message.lower()
    for kind, codes, words in _KINDS:
        if code in codes or any(word in low for word in words):
            return kind
    return "rejected"


def check_status(spec: HttpConnection, document: Any, where: str, quote: Callable[[str], str]) -> None:
    """Raise unless the status at ``spec.status_path`` is ``spec.status_ok``.

    ``quote`` redacts and cuts the vendor's text (the connector's own).

    Raises:
        ThrottledError, RetriableError, ConfigError: per the module table.
    """
    assert spec.status_path is not None and spec.status_ok is not None
    value = get_path(document, spec.status_path)
    code = "(missing)" if value is MISSING else status_text(value)
    if code == spec.status_ok:
        return
    message = _message(document, spec.status_path)
    shown = quote(message) if message is not None else f"(no message; answer {quote(_text(document))})"
    text = f"{where}: vendor status {spec.status_path}={code} (success is {spec.status_ok!r}): {shown}"
    _raise(_kind(code, message or ""), text)


def _raise(kind: str, text: str) -> NoReturn:
    if kind == "throttled":
        raise ThrottledError(text)
    if kind == "busy":
        raise RetriableError(text)
    if kind == "auth":
        raise ConfigError(f"{text}\n  hint: check the connection's auth and credentials")
    raise ConfigError(
        f"{text}\n  hint: the API refused the request: check the request fields of the source metadata, "
        "and that StatusKey/StatusValue (status_path/status_ok) name the answer's success"
    )


def _text(document: Any) -> str:
    import orjson

    try:
        return orjson.dumps(document, default=str).decode()
    except TypeError:
        return str(document)


def _record_lists(document: Any, path: str = "", depth: int = 0) -> list[str]:
    """Paths of lists of objects in ``document``, outermost first, at most 3 levels down."""
    if isinstance(document, list):
        return [path] if document and all(isinstance(r, dict) for r in document) else []
    if not isinstance(document, dict) or depth >= 3:
        return []
    found: list[str] = []
    for key, value in document.items():
        found += _record_lists(value, f"{path}.{key}" if path else str(key), depth + 1)
    return found


def records_hint(document: Any) -> str:
    """How to say where the records are: QEasy's ``otherResponse`` ``DataKey`` in the source
    metadata, or ``records_path`` on the connection, with the path of the first list of
    objects in the answer when there is one."""
    found = _record_lists(document)
    path = found[0] if found else "data.list"
    seen = f"the answer has a list of objects at {path!r}; " if found else ""
    return (
        f"{seen}declare where the records are, either in the source metadata: "
        f'"otherResponse": [{{"field": "DataKey", "value": "{path.replace(".", "/")}"}}], '
        f"or on the connection: records_path: {path}"
    )
