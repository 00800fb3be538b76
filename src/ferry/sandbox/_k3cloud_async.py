"""K3Cloud's asynchronous call mode: ``BeginQueryImpl`` and ``QueryAsyncResult`` (docs/vendor-protocols.md §1.2).

The official SDKs' "query" invoke mode (Python ``InvokeMethod.QUERY``, e.g. ``BatchSaveQuery``)
sends a form-service body with ``"beginmethod": "BeginQueryImpl", "querymethod":
"QueryAsyncResult"`` (the Java SDK sends them as headers). The server starts the call as a task
and answers its ``QueryResultInfo`` (field names of the Java SDK's ``QueryResultInfo``):

``{"TaskId", "Status", "Result", "Cancelled", "IsFaulted", "FaultedException", "Successful",
"Message", "Progress", "ProgressDesc"}`` with ``Status`` 0 pending, 1 running, 2 complete.

The client then polls ``...DynamicFormService.QueryAsyncResult`` with ``{"queryInfo":
"{\\"TaskId\\": ..., \\"Cancelled\\": false}"}`` (a JSON *string*; an object, or the Java SDK's
``{"parameters": [{...}]}``, is read too) until ``Status`` is 2; ``Result`` is then what the
synchronous call would have answered.

The simulator applies the call when it begins (so it is applied exactly once) and answers
``Status`` 1 (running); the first poll answers ``Status`` 2 and forgets the task. A task id it never issued answers a
faulted ``QueryResultInfo`` (``IsFaulted`` true, ``Status`` 2, message **[GUESS]**).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["AsyncTasks", "is_async"]

BEGIN_METHOD = "BeginQueryImpl"
UNKNOWN_TASK = "异步任务不存在或已过期"
"""**[GUESS]** The message of a poll for a task id the server does not know."""


def is_async(body: Any, headers: Mapping[str, str]) -> bool:
    """Whether a form-service call asks for the asynchronous mode (in its body or headers)."""
    begin = _key(body, "beginmethod") or headers.get("beginmethod", "")
    return str(begin).lower() == BEGIN_METHOD.lower()


def _info(task_id: str, status: int, result: Any = None, *, faulted: str = "") -> dict[str, Any]:
    return {
        "TaskId": task_id,
        "Status": status,
        "Result": result,
        "Cancelled": False,
        "IsFaulted": bool(faulted),
        "FaultedException": None,
        "Successful": status == 2 and not faulted,
        "Message": faulted or None,
        "Progress": 100 if status == 2 else 0,
        "ProgressDesc": None,
    }


def _key(obj: Any, name: str) -> Any:
    """``obj[name]`` matched case-insensitively (``None`` when ``obj`` is no object or lacks it)."""
    if not isinstance(obj, dict):
        return None
    return next((v for k, v in obj.items() if str(k).lower() == name), None)


def _task_id(body: Any) -> str:
    """The ``TaskId`` of a ``QueryAsyncResult`` body (``""`` when it names none)."""
    info = _key(body, "queryinfo")
    params = _key(body, "parameters")
    if info is None and isinstance(params, list) and params:
        info = params[0]
    if isinstance(info, str):
        try:
            info = orjson.loads(info)
        except orjson.JSONDecodeError:
            return ""
    return str(_key(info, "taskid") or "")


class AsyncTasks:
    """The answers of calls begun in the asynchronous mode, by task id."""

    def __init__(self) -> None:
        self._answers: dict[str, Any] = {}

    def begin(self, answer: Any) -> dict[str, Any]:
        """Keep ``answer`` (the call's synchronous answer) under a new task id; its running info."""
        task_id = str(uuid.uuid4())
        self._answers[task_id] = answer
        return _info(task_id, 1)

    def result(self, body: Any) -> dict[str, Any]:
        """The ``QueryResultInfo`` a ``QueryAsyncResult`` call with ``body`` answers."""
        task_id = _task_id(body)
        if task_id not in self._answers:
            return _info(task_id, 2, faulted=UNKNOWN_TASK)
        return _info(task_id, 2, self._answers.pop(task_id))
