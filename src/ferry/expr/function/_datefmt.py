"""``DATE_FORMAT`` and ``STR_TO_DATE`` format strings, specifier by specifier as in MariaDB.

Names are English (``lc_time_names = en_US``). Week numbers (``%U %u %V %v %X %x``) follow
MySQL's ``calc_week``. An unknown specifier prints the character itself (``%Q`` → ``Q``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from ferry.expr.function._dates import BadDate

__all__ = ["date_format", "str_to_date", "str_to_date_kind"]

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONDAY_FIRST, _WEEK_YEAR, _FIRST_WEEKDAY = 1, 2, 4


def _daynr(d: date) -> int:
    return d.toordinal() + 365  # MySQL's calc_daynr


def _weekday(daynr: int, sunday_first: bool) -> int:
    return (daynr + 5 + (1 if sunday_first else 0)) % 7


def _days_in_year(year: int) -> int:
    return 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365


def calc_week(d: date, behaviour: int) -> tuple[int, int]:
    """MySQL's ``calc_week``: (week number, year the week belongs to)."""
    daynr = _daynr(d)
    first_daynr = _daynr(date(d.year, 1, 1))
    monday_first = bool(behaviour & _MONDAY_FIRST)
    week_year = bool(behaviour & _WEEK_YEAR)
    first_weekday = bool(behaviour & _FIRST_WEEKDAY)
    weekday = _weekday(first_daynr, not monday_first)
    year = d.year
    if d.month == 1 and d.day <= 7 - weekday:
        if not week_year and ((first_weekday and weekday != 0) or (not first_weekday and weekday >= 4)):
            return 0, year
        week_year = True
        year -= 1
        days = _days_in_year(year)
        first_daynr -= days
        weekday = (weekday + 53 * 7 - days) % 7
    if (first_weekday and weekday != 0) or (not first_weekday and weekday >= 4):
        days = daynr - (first_daynr + (7 - weekday))
    else:
        days = daynr - (first_daynr - weekday)
    if week_year and days >= 52 * 7:
        weekday = (weekday + _days_in_year(year)) % 7
        if (not first_weekday and weekday < 4) or (first_weekday and weekday == 0):
            return 1, year + 1
    return days // 7 + 1, year


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _hour12(hour: int) -> int:
    return (hour + 11) % 12 + 1


def _spec(ch: str, v: datetime) -> str:
    if ch == "Y":
        return f"{v.year:04d}"
    if ch == "y":
        return f"{v.year % 100:02d}"
    if ch == "m":
        return f"{v.month:02d}"
    if ch == "c":
        return str(v.month)
    if ch == "d":
        return f"{v.day:02d}"
    if ch == "e":
        return str(v.day)
    if ch == "D":
        return f"{v.day}{_suffix(v.day)}"
    if ch == "H":
        return f"{v.hour:02d}"
    if ch == "k":
        return str(v.hour)
    if ch in "hI":
        return f"{_hour12(v.hour):02d}"
    if ch == "l":
        return str(_hour12(v.hour))
    if ch == "i":
        return f"{v.minute:02d}"
    if ch in "sS":
        return f"{v.second:02d}"
    if ch == "f":
        return f"{v.microsecond:06d}"
    if ch == "p":
        return "AM" if v.hour < 12 else "PM"
    if ch == "r":
        return f"{_hour12(v.hour):02d}:{v.minute:02d}:{v.second:02d} {'AM' if v.hour < 12 else 'PM'}"
    if ch == "T":
        return f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if ch == "M":
        return _MONTHS[v.month - 1]
    if ch == "b":
        return _MONTHS[v.month - 1][:3]
    if ch == "W":
        return _DAYS[v.weekday()]
    if ch == "a":
        return _DAYS[v.weekday()][:3]
    if ch == "w":
        return str((v.weekday() + 1) % 7)
    if ch == "j":
        return f"{v.timetuple().tm_yday:03d}"
    if ch in "UuVv":
        mode = {
            "U": _FIRST_WEEKDAY,
            "u": _MONDAY_FIRST,
            "V": _WEEK_YEAR | _FIRST_WEEKDAY,
            "v": _WEEK_YEAR | _MONDAY_FIRST,
        }[ch]
        return f"{calc_week(v.date(), mode)[0]:02d}"
    if ch in "Xx":
        mode = _WEEK_YEAR | (_FIRST_WEEKDAY if ch == "X" else _MONDAY_FIRST)
        return f"{calc_week(v.date(), mode)[1]:04d}"
    return ch


def date_format(value: datetime, fmt: str) -> str:
    """Format ``value`` with a MySQL ``DATE_FORMAT`` pattern."""
    out: list[str] = []
    i, size = 0, len(fmt)
    while i < size:
        ch = fmt[i]
        if ch == "%" and i + 1 < size:
            out.append(_spec(fmt[i + 1], value))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_DATE_SPECS = set("dembYyjDMaWUuVvXxwc")
_TIME_SPECS = set("HhIklisSfprT")
_SPACES = " \t\n\r"


def str_to_date_kind(fmt: str) -> tuple[str, int]:
    """What ``STR_TO_DATE`` with format ``fmt`` returns: ``date``/``datetime``/``time`` and fsp."""
    specs = set(re.findall(r"%(.)", fmt))
    has_date, has_time = bool(specs & _DATE_SPECS), bool(specs & _TIME_SPECS)
    fsp = 6 if "f" in specs else 0
    if has_date and not has_time:
        return "date", 0
    if has_time and not has_date:
        return "time", fsp
    return "datetime", fsp


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_spaces(self) -> bool:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACES:
            self.pos += 1
        return self.pos < len(self.text)

    def number(self, width: int) -> tuple[int, int]:
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(self.text) and self.pos - start < width and self.text[self.pos].isdigit():
            self.pos += 1
        digits = self.text[start : self.pos]
        if not digits.lstrip("+-"):
            raise BadDate("expected a number")
        return int(digits), len(digits)

    def word(self, names: list[str], short: bool) -> int:
        rest = self.text[self.pos :].lower()
        for index, name in enumerate(names):
            candidate = (name[:3] if short else name).lower()
            if rest.startswith(candidate):
                self.pos += len(candidate)
                return index
        raise BadDate("expected a name")


def str_to_date(text: str, fmt: str) -> tuple[datetime, timedelta | None]:
    """Parse ``text`` with a MySQL ``STR_TO_DATE`` format.

    Returns the datetime (date parts default to 0001-01-01 for time-only formats) and, for a
    time-only format, the time of day as a timedelta.

    Raises:
        BadDate: the text does not match the format or is not a valid date.
    """
    fields = {"Y": 0, "m": 0, "d": 0, "H": 0, "i": 0, "s": 0, "f": 0, "yday": 0}
    pm: bool | None = None
    reader = _Reader(text)
    expanded = fmt.replace("%T", "%H:%i:%S").replace("%r", "%I:%i:%S %p")
    i = 0
    while i < len(expanded):
        if not reader.skip_spaces():
            break
        ch = expanded[i]
        if ch == "%" and i + 1 < len(expanded):
            spec = expanded[i + 1]
            i += 2
            if spec in "Yy":
                value, width = reader.number(4 if spec == "Y" else 2)
                fields["Y"] = value + (2000 if value < 70 else 1900) if width <= 2 else value
            elif spec in "mc":
                fields["m"] = reader.number(2)[0]
            elif spec in "de":
                fields["d"] = reader.number(2)[0]
            elif spec == "D":
                fields["d"] = reader.number(2)[0]
                reader.pos += 2
            elif spec in "Hk":
                fields["H"] = reader.number(2)[0]
            elif spec in "hIl":
                fields["H"] = reader.number(2)[0]
                pm = bool(pm)
            elif spec == "i":
                fields["i"] = reader.number(2)[0]
            elif spec in "sS":
                fields["s"] = reader.number(2)[0]
            elif spec == "f":
                value, width = reader.number(6)
                fields["f"] = value * 10 ** (6 - width)
            elif spec == "p":
                word = reader.text[reader.pos : reader.pos + 2].upper()
                if word not in ("AM", "PM"):
                    raise BadDate("expected AM or PM")
                reader.pos += 2
                pm = word == "PM"
            elif spec in "Mb":
                fields["m"] = reader.word(_MONTHS, spec == "b") + 1
            elif spec in "Wa":
                reader.word(_DAYS, spec == "a")
            elif spec == "j":
                fields["yday"] = reader.number(3)[0]
            elif spec == "%":
                if reader.text[reader.pos] != "%":
                    raise BadDate("expected '%'")
                reader.pos += 1
            else:
                raise BadDate(f"the specifier %{spec} is not supported by STR_TO_DATE here")
            continue
        i += 1
        if ch in _SPACES:
            continue
        if reader.text[reader.pos] != ch:
            raise BadDate(f"expected {ch!r} at position {reader.pos + 1}")
        reader.pos += 1
    if pm is not None:
        hour = fields["H"]
        if not 1 <= hour <= 12:
            raise BadDate("a 12-hour clock hour must be 1..12")
        fields["H"] = hour % 12 + (12 if pm else 0)
    if fields["H"] > 23 or fields["i"] > 59 or fields["s"] > 59:
        raise BadDate("is not a valid time")
    clock = timedelta(hours=fields["H"], minutes=fields["i"], seconds=fields["s"], microseconds=fields["f"])
    year = fields["Y"]
    if fields["yday"]:
        if not year:
            raise BadDate("a day of the year needs a year")
        day = date(year, 1, 1) + timedelta(days=fields["yday"] - 1)
        fields["m"], fields["d"] = day.month, day.day
    kind = str_to_date_kind(fmt)[0]
    if kind == "time":
        return datetime(1, 1, 1) + clock, clock
    try:
        moment = datetime(year, fields["m"], fields["d"]) + clock
    except ValueError:
        raise BadDate(f"{year:04d}-{fields['m']:02d}-{fields['d']:02d} is not a valid date") from None
    return moment, None
