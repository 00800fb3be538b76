"""K3Cloud bodies: reading a request's ``formid``/``data`` and shaping answers (docs/vendor-protocols.md §1.4-1.6).

Requests: ``{"data": {...}}`` (queries), ``{"formid", "data"}`` (the others; ``ExcuteOperation``
adds ``opNumber``), ``data`` possibly a JSON string, or the legacy ``{"parameters": "[...]"}``.

Every business answer is HTTP 200. A failure is a ``ResponseStatus`` (``ErrorCode`` 500,
``IsSuccess`` false, ``Errors``, ``MsgCode``) wrapped the way the service wraps it:

* ``ExecuteBillQuery``: ``[[{"Result": {"ResponseStatus": {...}}}]]``;
* every other service: ``{"Result": {"ResponseStatus": {...}}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "CALL_LIMIT",
    "DATA_NOT_FOUND",
    "EXCEPTION",
    "FIELD_NOT_FOUND",
    "FORM_ID_EMPTY",
    "NOT_ALLOWED",
    "OPERATION_EMPTY",
    "PARAMETER_ERROR",
    "SESSION_LOST",
    "SESSION_LOST_TEXT",
    "VALIDATION_FAILED",
    "K3Error",
    "RowError",
    "failure",
    "msg_code",
    "response_status",
    "unpack",
    "wrap",
]

SESSION_LOST = 1
OPERATION_EMPTY = 3
EXCEPTION = 4
FORM_ID_EMPTY = 5
PARAMETER_ERROR = 8
FIELD_NOT_FOUND = 9
DATA_NOT_FOUND = 10
VALIDATION_FAILED = 11
NOT_ALLOWED = 12
CALL_LIMIT = 14

SESSION_LOST_TEXT = "会话信息已丢失，请重新登录"
"""The vendor's text for ``MsgCode`` 1 (no valid session and authentication failed)."""


@dataclass
class RowError:
    """One entry of ``ResponseStatus.Errors``."""

    message: str
    field_name: str | None = None
    dindex: int = 0
    msg_code: int = VALIDATION_FAILED

    def as_json(self) -> dict[str, Any]:
        """``{"FieldName", "Message", "DIndex"}`` as the vendor spells them."""
        return {"FieldName": self.field_name, "Message": self.message, "DIndex": self.dindex}


@dataclass
class K3Error(Exception):
    """A failure of the whole call, answered as a failed ``ResponseStatus``."""

    msg_code: int
    message: str
    field_name: str | None = None
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"MsgCode {self.msg_code}: {self.message}"

    def status(self) -> dict[str, Any]:
        """The failed ``ResponseStatus``."""
        errors = self.errors or [RowError(self.message, self.field_name, 0, self.msg_code)]
        return response_status(errors=errors, msg_code=self.msg_code)


def response_status(
    *,
    errors: list[RowError] | None = None,
    successes: list[dict[str, Any]] | None = None,
    msg_code: int | None = None,
) -> dict[str, Any]:
    """A ``ResponseStatus``: success when there is no error, else ``ErrorCode`` 500.

    ``msg_code`` defaults to 0 on success and to the first error's code on failure.
    """
    errors = errors or []
    ok = not errors
    if msg_code is None:
        msg_code = 0 if ok else errors[0].msg_code
    return {
        "ErrorCode": 0 if ok else 500,
        "IsSuccess": ok,
        "Errors": [e.as_json() for e in errors],
        "SuccessEntitys": successes or [],
        "SuccessMessages": [],
        "MsgCode": msg_code,
    }


def wrap(service: str, status: dict[str, Any]) -> Any:
    """``status`` in the wrapper of ``service`` (``ExecuteBillQuery`` nests it in two lists)."""
    body = {"Result": {"ResponseStatus": status}}
    return [[body]] if service == "ExecuteBillQuery" else body


def failure(service: str, msg_code: int, message: str, field_name: str | None = None) -> Any:
    """A whole-call failure of ``service`` in its wrapper."""
    return wrap(service, K3Error(msg_code, message, field_name).status())


def msg_code(answer: Any) -> int:
    """The ``MsgCode`` of an answer (0 for a query's rows)."""
    if isinstance(answer, list) and answer and isinstance(answer[0], list) and answer[0]:
        answer = answer[0][0]
    if isinstance(answer, dict) and isinstance(answer.get("Result"), dict):
        status = answer["Result"].get("ResponseStatus") or {}
        return int(status.get("MsgCode") or 0)
    return 0


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise K3Error(PARAMETER_ERROR, f"{what} 不是有效的 JSON") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise K3Error(PARAMETER_ERROR, f"{what} 必须是 JSON 对象")
    return value


def unpack(method: str, body: Any, *, queries: frozenset[str]) -> tuple[str, dict[str, Any], str]:
    """``(formid, data with lower-cased keys, opNumber)`` from any accepted body form."""
    outer = {str(k).lower(): v for k, v in _json_object(body, "请求数据包").items()}
    params = outer.get("parameters")
    if params is not None:
        if isinstance(params, str):
            try:
                params = orjson.loads(params)
            except orjson.JSONDecodeError:
                raise K3Error(PARAMETER_ERROR, "parameters 不是有效的 JSON") from None
        params = params if isinstance(params, list) else [params]
        if method in queries:
            outer["data"] = params[0] if params else None
        else:
            names = ["formid", "opnumber", "data"] if method == "ExcuteOperation" else ["formid", "data"]
            outer.update(zip(names, params, strict=False))
    data = {str(k).lower(): v for k, v in _json_object(outer.get("data"), "data").items()}
    first, second = ("data", "outer") if method in queries else ("outer", "data")
    scopes = {"data": data, "outer": outer}
    form_id = str(scopes[first].get("formid") or scopes[second].get("formid") or "")
    if not form_id.strip() and method not in queries:
        raise K3Error(FORM_ID_EMPTY, "表单标识 formid 不能为空")
    return form_id.strip(), data, str(outer.get("opnumber") or "").strip()
