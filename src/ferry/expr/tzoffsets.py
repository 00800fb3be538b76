"""Where a time zone's UTC offset is constant, so epoch seconds can be formatted without it.

:func:`constant_offset` answers, once per zone, "from which UTC instant on is the offset fixed,
and what is it?" — Asia/Shanghai: since 1991-09-15 (its last DST transition), +08:00. It reads
the zone's TZif data (the same file :class:`zoneinfo.ZoneInfo` loads: ``zoneinfo.TZPATH``
first, then the ``tzdata`` package) and accepts the answer only when the zone's rule for the
future (the TZif footer) has no daylight saving time and ``ZoneInfo`` itself agrees at sample
instants. Anything else — a DST zone, a zone built from a file, unreadable data — gives
``None``, and callers use ``ZoneInfo`` as before; the fast path never changes a result.
"""

from __future__ import annotations

import os
import re
import struct
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from importlib import resources

__all__ = ["constant_offset"]

_cache: dict[tzinfo, tuple[int, int] | None] = {}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = 4102444800  # 2100-01-01
_POSIX_STD = re.compile(r"(?:<[^>]+>|[A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?")


def constant_offset(tz: tzinfo) -> tuple[int, int] | None:
    """``(since, offset)``: for every epoch second ``>= since`` the offset of ``tz`` is ``offset``
    seconds; ``None`` when that cannot be established (see module doc).

    A fixed :class:`datetime.timezone` gives ``(0, offset)`` (the fast path is for positive
    epochs only).
    """
    try:
        return _cache[tz]
    except KeyError:
        pass
    except TypeError:  # an unhashable tzinfo
        return None
    found = _compute(tz)
    if len(_cache) >= 64:  # a run uses one or two zones; never grow without bound
        _cache.clear()
    _cache[tz] = found
    return found


def _compute(tz: tzinfo) -> tuple[int, int] | None:
    if isinstance(tz, timezone):
        fixed = tz.utcoffset(None)
        return (0, int(fixed.total_seconds())) if fixed.microseconds == 0 else None
    if not isinstance(tz, zoneinfo.ZoneInfo) or not tz.key:
        return None
    try:
        data = _read(tz.key)
        found = _tail(data) if data else None
    except (OSError, ValueError, struct.error, ImportError, UnicodeError):
        return None
    if found is None:
        return None
    since, offset = found
    since = max(since, 0)
    for probe in (since, since + 1, since + 86400 * 183, 1_700_000_000, _FAR):
        at = max(probe, since)
        local = (_EPOCH + timedelta(seconds=at)).astimezone(tz)
        if local.utcoffset() != timedelta(seconds=offset):
            return None
    return since, offset


def _read(key: str) -> bytes | None:
    for base in zoneinfo.TZPATH:
        path = os.path.join(base, key)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                return handle.read()
    parts = key.split("/")
    package = ".".join(["tzdata.zoneinfo", *parts[:-1]])
    try:
        return resources.files(package).joinpath(parts[-1]).read_bytes()
    except (ImportError, FileNotFoundError):
        return None


def _tail(data: bytes) -> tuple[int, int] | None:
    """``(last transition, offset)`` when the offset never changes after the last transition."""
    if data[:4] != b"TZif" or data[4:5] < b"2":
        return None  # version 1 files have no footer describing the future
    isut, isstd, leap, count, types, chars = struct.unpack(">6l", data[20:44])
    v1_size = count * 5 + types * 6 + chars + leap * 8 + isstd + isut
    head = 44 + v1_size
    if data[head : head + 4] != b"TZif":
        return None
    isut, isstd, leap, count, types, chars = struct.unpack(">6l", data[head + 20 : head + 44])
    if leap or types == 0:
        return None
    pos = head + 44
    times = struct.unpack(f">{count}q", data[pos : pos + count * 8])
    pos += count * 8
    indexes = data[pos : pos + count]
    pos += count
    infos = [struct.unpack(">lBB", data[pos + 6 * i : pos + 6 * i + 6]) for i in range(types)]
    pos += types * 6 + chars + isstd + isut
    footer = data[pos:]
    if footer[:1] != b"\n":
        return None
    rule = footer[1:].split(b"\n", 1)[0].decode("ascii")
    std = _POSIX_STD.fullmatch(rule)
    if std is None:  # empty, or a DST part follows the standard time
        return None
    sign, hours, minutes, seconds = std.groups()
    posix = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    offset = posix if sign == "-" else -posix  # POSIX offsets count west of Greenwich
    if count:
        if infos[indexes[-1]][0] != offset:
            return None
        return times[-1], offset
    if len(infos) != 1 or infos[0][0] != offset:
        return None
    return 0, offset
