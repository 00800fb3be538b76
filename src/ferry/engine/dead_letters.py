"""Turning a page's records into ledger rows, so that no record vanishes and none blocks the others.

A record that cannot be stored as it is becomes a *dead letter*: a ledger row in status
``dead`` whose ``last_error`` says why, stored in the page's transaction (so the window's cursor
still moves) and counted in ``dead``. Nothing is merged and nothing is dropped:

==========================================  ===================================================
the record                                  its ledger row
==========================================  ===================================================
has no id (``no_id``)                       ``noid-<content hash>``, the record as content
cannot be read (a connector's ``Rejected``:  ``dead-<hash of its raw bytes>``, content
NaN, Infinity, 1e400, a lone surrogate,      ``{"reason", "position", "raw"}`` (``raw_base64``
invalid UTF-8, too deep, not an object)      when the bytes are not UTF-8)
has an id that is not a string or an        ``dead-<content hash>``, the record as content
integer, is longer than the ledger keeps,   (or ``{"reason", "raw"}`` when it has no JSON form)
or equals another id of the page only once
both are text (``1`` and ``"1"``); a number
longer than the ledger keeps; content with
no JSON form (lone surrogate, too deep)
==========================================  ===================================================

The same key twice on one page (two identical records) gets ``-2``, ``-3``... so each is kept.
``rejected`` counts every dead letter but those without an id (``no_id``); both are counted in
the run's ``due`` and ``dead`` too (:meth:`ferry.engine.counts.RunCounts.collect_dead_letter`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

from ferry._json import ascii_text
from ferry.connectors.base import Rejected
from ferry.engine.counts import RunCounts
from ferry.expr.paths import resolve_path
from ferry.store import ID_LENGTH, RecordResult
from ferry.store.codec import content_hash, encode_content
from ferry.transform.flatten import beat_flat

__all__ = ["DEAD_PREFIX", "NOID_PREFIX", "PageKeeper", "Row"]

DEAD_PREFIX = "dead-"
"""Key prefix of a dead letter whose record has no usable id or cannot be read."""
NOID_PREFIX = "noid-"
"""Key prefix of a record without an id."""

Row = tuple[str, str | None, dict[str, Any]]
"""A ledger row as the collector produces it: (record id, number, content)."""


def _raw_content(raw: bytes, reason: str, position: int | None) -> dict[str, Any]:
    content: dict[str, Any] = {"reason": reason, "position": position}
    try:
        content["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        content["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return content


def _digest(content: Any) -> str:
    try:
        return content_hash(content)
    except TypeError:  # no JSON form: hash what a person would see
        return hashlib.blake2b(ascii_text(content).encode("utf-8"), digest_size=16).hexdigest()


def _storable(record: dict[str, Any], reason: str) -> dict[str, Any]:
    """``record`` itself when the ledger can hold it, else its text with ``reason``."""
    try:
        encode_content(record)
    except TypeError:
        return _raw_content(ascii_text(record).encode("utf-8"), reason, None)
    return record


def _kind(kind: type) -> str:
    return "a string" if kind is str else "an integer"


class PageKeeper:
    """Makes the ledger rows of a scheme's records, one page at a time.

    Args:
        id_field: The scheme's ``id`` path (``None``: every record is without an id).
        number_field: The scheme's ``number`` path, if any.
        arrays: The ``beatFlat`` arrays.
        counts: Where the page's counts go (``flattened``: the rows a split *added*; ``no_id``
            and ``rejected`` with their ``due`` and ``dead``); the collector gives each page its
            own and adds it to the run's once the page is stored.
    """

    def __init__(
        self, id_field: str | None, number_field: str | None, arrays: Sequence[str], counts: RunCounts
    ) -> None:
        self.id_field = id_field
        self.number_field = number_field
        self.arrays = list(arrays)
        self.counts = counts
        self.letters: dict[str, str] = {}
        """The page's dead letters so far: key -> reason."""
        self._kinds: dict[str, type] = {}

    def new_page(self) -> None:
        """Forget the previous page (its letters went with its upsert)."""
        self.letters = {}
        self._kinds = {}

    def results(self, run_id: int | None) -> list[RecordResult]:
        """The page's dead letters as results to record with its upsert."""
        return [
            RecordResult(record_id=key, status="dead", error=reason, run_id=run_id)
            for key, reason in self.letters.items()
        ]

    def add(self, record: dict[str, Any], rows: list[Row]) -> None:
        """Append the ledger rows of one record the condition kept (several with ``beatFlat``).

        The common case costs a few lookups; what is wrong with a record that fails them is
        worked out apart (:meth:`_dead_letter`).
        """
        raw_id = resolve_path(record, self.id_field) if self.id_field else None
        kind = type(raw_id)
        row_id: str = raw_id if kind is str else str(raw_id) if kind is int else ""  # type: ignore[assignment]
        number = self._number_text(record)
        if self._keeps(row_id, kind) and (number is None or len(number) <= ID_LENGTH):
            if self.arrays:
                rows.extend(self._flat(row_id, number, record))
            else:
                rows.append((row_id, number, record))
        else:
            rows.append(self._dead_letter(record, raw_id, row_id, kind, number))

    def _number_text(self, record: dict[str, Any]) -> str | None:
        number = resolve_path(record, self.number_field) if self.number_field else None
        return None if number is None else str(number)

    def _keeps(self, row_id: str, kind: type) -> bool:
        """Whether ``row_id`` may be stored: not empty, not too long, and not also an id of the
        page of the other type (``7`` and ``"7"``)."""
        return bool(row_id) and len(row_id) <= ID_LENGTH and self._kinds.setdefault(row_id, kind) is kind

    def _dead_letter(
        self, record: dict[str, Any], raw_id: Any, row_id: str, kind: type, number: str | None
    ) -> Row:
        """The dead letter of a record :meth:`add` could not keep, with why."""
        if raw_id is not None and kind is not str and kind is not int:
            return self.bad(
                record, f"id {self.id_field!r} is {ascii_text(raw_id)[:80]}, not a string or an integer"
            )
        if not row_id:
            return self.no_id(record)
        if len(row_id) > ID_LENGTH:
            return self.bad(
                record, f"id is {len(row_id)} characters long; the ledger keeps at most {ID_LENGTH}"
            )
        seen = self._kinds[row_id]
        if seen is not kind:
            return self.bad(
                record,
                f"id {row_id[:80]!r} is {_kind(kind)} on this page and also {_kind(seen)}: "
                "distinct ids that would become one",
            )
        length = len(number or "")
        return self.bad(
            record, f"number {self.number_field!r} is {length} characters; the ledger keeps {ID_LENGTH}"
        )

    def _flat(self, row_id: str, number: str | None, record: dict[str, Any]) -> Iterator[Row]:
        split = -1  # a record is one row; the split adds the others
        for flat_id, row in beat_flat(row_id, record, self.arrays):
            split += 1
            if len(flat_id) > ID_LENGTH:
                yield self.bad(
                    row, f"flattened id is {len(flat_id)} characters; the ledger keeps {ID_LENGTH}"
                )
                continue
            yield flat_id, number, row
        self.counts.flattened += split

    def no_id(self, record: dict[str, Any]) -> Row:
        """A record without an id, kept under ``noid-<content hash>``."""
        self.counts.collect_dead_letter("no_id")
        reason = f"source record has no id: field {self.id_field!r} is missing or empty"
        return self._letter(NOID_PREFIX + _digest(record), reason), None, _storable(record, reason)

    def bad(self, record: dict[str, Any], reason: str) -> Row:
        """A record (or flattened row) that cannot be stored under its id, kept under a hash."""
        self._count_rejected()
        return self._letter(DEAD_PREFIX + _digest(record), reason), None, _storable(record, reason)

    def rejected(self, record: Rejected) -> Row:
        """A record a connector could not read, kept with its raw bytes."""
        self._count_rejected()
        reason = f"record {record.position} of the page cannot be read: {record.reason}"
        digest = hashlib.blake2b(record.raw, digest_size=16).hexdigest()
        return (
            self._letter(DEAD_PREFIX + digest, reason),
            None,
            _raw_content(record.raw, reason, record.position),
        )

    def salvage(self, rows: Sequence[Row]) -> list[Row]:
        """``rows`` with every row whose content has no JSON form turned into a dead letter
        (after the page's upsert refused them; the rare path, one encode per row)."""
        kept: list[Row] = []
        for row_id, number, content in rows:
            if row_id in self.letters:
                kept.append((row_id, number, content))
                continue
            try:
                encode_content(content)
            except TypeError as exc:
                reason = f"record {row_id[:80]!r}: content cannot be stored as it is: {exc}"
                raw = ascii_text(content).encode("utf-8")
                self._count_rejected()
                key = self._letter(DEAD_PREFIX + hashlib.blake2b(raw, digest_size=16).hexdigest(), reason)
                kept.append((key, None, _raw_content(raw, reason, None)))
            else:
                kept.append((row_id, number, content))
        return kept

    def _count_rejected(self) -> None:
        self.counts.collect_dead_letter("rejected")

    def _letter(self, key: str, reason: str) -> str:
        unique, repeat = key, 1
        while unique in self.letters:
            repeat += 1
            unique = f"{key}-{repeat}"
        self.letters[unique] = reason
        return unique
