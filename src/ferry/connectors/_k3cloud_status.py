"""K3Cloud answers: finding the ``ResponseStatus`` and classifying a failed one (§1.4-§1.6).

Business answers are HTTP 200. A failure carries ``{"Result": {"ResponseStatus": {"IsSuccess":
false, "MsgCode": n, "Errors": [{"FieldName", "Message", "DIndex"}], "SuccessEntitys": [...]}}}``
(ExecuteBillQuery wraps it in ``[[...]]``). :func:`raise_for_call_status` maps the codes that
concern the whole call:

=====================================================  =========================================
``MsgCode`` 1 (session lost)                           ``AuthExpiredError`` (the session relogs
                                                       in once before this is reached)
``MsgCode`` 14 (call limit)                            ``ThrottledError``
``MsgCode`` 4 text ``...不存在`` / ``GetRealExpress``    ``ConfigError`` (unknown form, bad filter)
``MsgCode`` 4 otherwise (exception), 6 (database)      ``RetriableError``
``MsgCode`` 2, 3, 5, 7, 15                             ``ConfigError`` (permission, form, licence)
=====================================================  =========================================

Other codes (8 parameter, 9 no such field, 10 no data, 11 validation, 12 not allowed, 13
network control) are the caller's: a bad query, or bills rejected one by one.
"""

from __future__ import annotations

import re
from typing import Any

from ferry.connectors._vendor import VendorClient

__all__ = [
    "SESSION_LOST",
    "dindex",
    "error_text",
    "find_status",
    "is_success",
    "msg_code",
    "raise_for_call_status",
    "session_lost",
    "status_text",
]

SESSION_LOST = 1
CALL_LIMIT = 14
EXCEPTION = 4
RETRIABLE_CODES = frozenset({EXCEPTION, 6})
CONFIG_EXCEPTION = re.compile(r"GetRealExpress|不存在|does not exist|not exist", re.IGNORECASE)
"""MsgCode 4 texts that name a bad request, not a server fault: an unknown form (``标识为“X”的业务
对象不存在``) or a FilterString/OrderString the server cannot parse (``GetRealExpress error``), as
a real server answers them (adamzhang1987/kingdee-k3cloud-mcp, cited by the simulator)."""
CONFIG_EXCEPTION_HINT = "check FormId, FilterString and OrderString"
CONFIG_CODES = {
    2: "the user lacks permission for this form or operation",
    3: "the operation is missing",
    5: "the FormId is missing or unknown",
    7: "the K3Cloud licence does not allow this call",
    15: "this user may not log in through the WebAPI (administrator logins are forbidden)",
}


def find_status(document: Any) -> dict[str, Any] | None:
    """The ``ResponseStatus`` object of an answer, if it has one.

    Recognises ``{"Result": {"ResponseStatus": ...}}`` (Save, BillQuery errors) and the same
    object wrapped in one or two lists (ExecuteBillQuery errors ``[[{...}]]``).
    """
    for _ in range(3):
        if isinstance(document, list):
            if len(document) != 1:
                return None
            document = document[0]
            continue
        break
    if not isinstance(document, dict):
        return None
    result = document.get("Result")
    if isinstance(result, dict) and isinstance(result.get("ResponseStatus"), dict):
        status: dict[str, Any] = result["ResponseStatus"]
        return status
    return None


def is_success(status: dict[str, Any]) -> bool:
    """``IsSuccess``, which the vendor sometimes sends as the string ``"false"``."""
    flag = status.get("IsSuccess")
    if isinstance(flag, str):
        return flag.strip().lower() == "true"
    return bool(flag)


def msg_code(status: dict[str, Any]) -> int | None:
    """``MsgCode`` as an int (``None`` when absent or not a number)."""
    try:
        return int(status.get("MsgCode"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def error_text(errors: list[Any]) -> str:
    """``FieldName: Message; Message`` for a list of vendor error entries."""
    parts = []
    for entry in errors:
        if not isinstance(entry, dict):
            parts.append(str(entry))
            continue
        field, message = entry.get("FieldName"), entry.get("Message")
        parts.append(f"{field}: {message}" if field else str(message))
    return "; ".join(parts)


def status_text(status: dict[str, Any]) -> str:
    """The vendor's explanation in a failed ``ResponseStatus`` (its errors, else its code)."""
    errors = status.get("Errors") or []
    text = error_text(errors) if isinstance(errors, list) else str(errors)
    return text or f"IsSuccess false, ErrorCode {status.get('ErrorCode')}"


def raise_for_call_status(client: VendorClient, api: str, status: dict[str, Any]) -> None:
    """Raise for a failed status that concerns the whole call (see the module table).

    Returns for success and for failures the caller classifies itself (bad fields, rejected
    bills). A status that also reports successes never raises: those bills were saved.
    """
    if is_success(status) or status.get("SuccessEntitys"):
        return
    code = msg_code(status)
    text = status_text(status)
    if code == CALL_LIMIT:
        raise client.throttled(api, code, text)
    if code == EXCEPTION and CONFIG_EXCEPTION.search(text):
        raise client.config_error(api, code, text, CONFIG_EXCEPTION_HINT)
    if code in RETRIABLE_CODES:
        raise client.retriable(api, code, text)
    if code in CONFIG_CODES:
        raise client.config_error(api, code, text, CONFIG_CODES[code])
    if code == SESSION_LOST:
        raise client.expired(api, code, text)


def session_lost(document: Any) -> dict[str, Any] | None:
    """The failed status of a "session lost" answer (``MsgCode`` 1), else ``None``."""
    status = find_status(document)
    if status is not None and not is_success(status) and msg_code(status) == SESSION_LOST:
        return status
    return None


def dindex(entry: Any, count: int) -> int | None:
    """The ``DIndex`` of an error or success entry when it is in ``range(count)``."""
    if not isinstance(entry, dict):
        return None
    try:
        index = int(entry.get("DIndex"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < count else None
