"""Request parsing of the OKKI simulator: form/JSON bodies and the receipt list parameters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import orjson

from ferry.sandbox._okki_receipts import TIME_FORMAT

__all__ = ["MAX_COUNT", "form_fields", "list_params"]

MAX_COUNT = 100
"""[GUESS] largest ``count`` (the maximum is not documented)."""


def form_fields(request: httpx.Request) -> dict[str, str]:
    """The body's fields: JSON object or ``x-www-form-urlencoded`` (values as text)."""
    content = request.content
    if not content:
        return {}
    if "json" in request.headers.get("Content-Type", ""):
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            return {}
        return (
            {str(k): "" if v is None else str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        )
    return dict(parse_qsl(content.decode("utf-8", "replace"), keep_blank_values=True))


def _time(value: str, name: str, *, end: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    for fmt in (TIME_FORMAT, "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d" and end:
            parsed += timedelta(days=1, seconds=-1)
        return parsed
    raise ValueError(f"{name} 格式错误，应为 yyyy-MM-dd HH:mm:ss 或 yyyy-MM-dd: {value}")


def list_params(params: Mapping[str, str]) -> tuple[int, int, datetime | None, datetime | None, bool]:
    """``(start_index, count, start, end, removed)``; ``ValueError`` names the bad parameter."""
    numbers = {}
    for name, default, high in (("start_index", 1, None), ("count", 20, MAX_COUNT)):
        raw = str(params.get(name, "") or default).strip()
        if not raw.isdigit() or int(raw) < 1 or (high is not None and int(raw) > high):
            limit = f"1 到 {high}" if high else "大于等于 1"
            raise ValueError(f"{name} 参数错误，应为{limit}的整数: {raw}")
        numbers[name] = int(raw)
    removed = str(params.get("removed", "") or "0").strip()
    if removed not in ("0", "1"):
        raise ValueError(f"removed 参数错误，应为 0 或 1: {removed}")
    start = _time(params.get("start_time", ""), "start_time", end=False)
    end = _time(params.get("end_time", ""), "end_time", end=True)
    return numbers["start_index"], numbers["count"], start, end, removed == "1"
