"""A run's accounting: every record a run touches is counted in exactly one bucket.

Two identities hold for every run that recorded its counts (:meth:`RunCounts.imbalance`
checks them, the CLI, the console and the tests read them):

**Collect**, in ledger rows::

    fetched + flattened = filtered_out + no_id + rejected + repeated + unchanged + new + changed

``fetched`` counts the records the source returned; every other term counts ledger rows. A
record becomes one row, except under ``beatFlat``, which splits a record into one row per
element of its array: ``flattened`` is the rows that split *added* (a record of 3 lines
adds 2; a record whose array is empty stays one row and adds 0). So seed 001 reads
``fetched 200 + flattened 199 = new 399``. The buckets:

- ``filtered_out``: records the ``condition`` dropped (by design, not stored);
- ``no_id``: records without an id, kept as dead letters with the reason (they count in
  ``dead`` too, below);
- ``rejected``: records that cannot be stored as they are (unreadable bytes, NaN, an id or a
  number too long for the ledger, ids that would collide), kept as dead letters with the reason
  and their raw text (in ``dead`` too);
- ``repeated``: rows whose id came again later on the same page (only the last one is kept);
- ``unchanged`` / ``new`` / ``changed``: rows the ledger already held with the same content,
  did not hold, held with other content.

Counts are committed with their page: a page that fails to store is not counted at all.

**Deliver**, in ledger rows::

    due = delivered + failed + dead + quarantined + pending

``due`` is every row the run took up for delivery (claimed, or handed over by its collector)
plus the dead letters its collection made (``no_id``, ``rejected``) and the rows a source
quality rule held as it stored them. Each ends in one bucket: ``delivered``
(the target acknowledged it; ``delivered_unchanged`` of them were already current), ``failed``
(an error; it waits on the retry ladder), ``dead`` (failed its last attempt, or a dead letter
from collecting), ``quarantined`` (a quality rule holds it for an operator, outside the ladder:
``ferry quarantine``), ``pending`` (taken up but given back unwritten: the run stopped, or the
target went away before its turn; the next run delivers it). ``warned`` counts the delivered
records that broke a ``warn`` rule (not a bucket), ``quality_failed`` the windows and batches a
``fail_window`` rule stopped.

The ``waiting_*`` fields are not run buckets: they say what the *scheme's* ledger still
holds after the run (``pending`` and ``queued`` rows, ``error``, ``dead``), and
``failing_since`` the oldest run that last failed one of its ``error``/``dead`` rows.

**Per quality rule** (``quality_rules``, kept with the run's counts): ``{rule: {"warned": n,
"quarantined": n, "failed": n}}``, rules named as their holds name them (a ``quality`` rule's
``name``, ``map:<table>`` for a value map, ``schema_drift``). ``quarantined`` counts the rows the
rule held (each held row names one rule, so they sum to ``quarantined``); ``warned`` the records
that went on although they broke the rule (a record that breaks two rules counts for each);
``failed`` the windows and batches the rule stopped (they sum to ``quality_failed``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "COLLECT_BUCKETS",
    "COUNT_LABELS",
    "DELIVER_BUCKETS",
    "RULE_COUNTS",
    "SHOWN_COUNTS",
    "RunCounts",
    "accounting_lines",
    "count_label",
    "still_waiting",
]

COLLECT_BUCKETS = ("filtered_out", "no_id", "rejected", "repeated", "unchanged", "new", "changed")
"""The collect buckets, whose sum is ``fetched + flattened``."""
DELIVER_BUCKETS = ("delivered", "failed", "dead", "quarantined", "pending")
"""The deliver buckets, whose sum is ``due``."""
SHOWN_COUNTS = (
    "windows",
    "pages",
    "fetched",
    "flattened",
    *COLLECT_BUCKETS,
    "due",
    "delivered",
    "delivered_unchanged",
    *DELIVER_BUCKETS[1:],
    "warned",
    "quality_failed",
    "retries",
    "verified",
    "recovered",
)
"""A run's own counts, in the order every view lists them (the ``waiting_*`` fields are said in
words instead, by :func:`still_waiting`)."""
RULE_COUNTS = ("warned", "quarantined", "failed")
"""What ``quality_rules`` counts per rule (the module docstring says what each one is)."""
_ADDING = threading.Lock()


@dataclass
class RunCounts:
    """What one run did (the module docstring states the identities these counts obey)."""

    windows: int = 0
    pages: int = 0
    fetched: int = 0
    """Records the source returned (on the pages stored)."""
    flattened: int = 0
    """Ledger rows ``beatFlat`` added: a record split into ``n`` rows adds ``n - 1``."""
    filtered_out: int = 0
    """Records the ``condition`` dropped (not stored, by design)."""
    no_id: int = 0
    """Records without an id: stored as dead letters with the reason (also counted in ``dead``)."""
    rejected: int = 0
    """Records that cannot be stored as they are (unreadable, an id or number the ledger cannot
    keep, ids that would collide): stored as dead letters with the reason and their raw text
    (:mod:`ferry.engine.dead_letters`; also counted in ``dead``)."""
    repeated: int = 0
    """Rows whose id came again later on the same page: only the last one is stored."""
    unchanged: int = 0
    """Known ids whose content is the same as the ledger's."""
    new: int = 0
    """Ids the ledger did not hold."""
    changed: int = 0
    """Known ids whose content changed (delivered again under ``on_change: redeliver``)."""
    due: int = 0
    """Rows the run took up for delivery, plus the dead letters its collection made."""
    delivered: int = 0
    """Rows the target acknowledged this run (``finished``)."""
    delivered_unchanged: int = 0
    """Of ``delivered``: rows the target acknowledged as already current (nothing changed)."""
    failed: int = 0
    """Rows that failed this run and wait on the retry ladder (``error``)."""
    dead: int = 0
    """Rows that failed their last attempt, and the dead letters collecting made (``no_id``,
    ``rejected``)."""
    quarantined: int = 0
    """Rows a quality rule held (at collect or at deliver): ``quarantined``, for an operator."""
    pending: int = 0
    """Rows taken up but given back unwritten (a stop, a lost target): the next run delivers them."""
    warned: int = 0
    """Records that broke a ``warn`` quality rule (and went on): not a bucket."""
    quality_failed: int = 0
    """Windows (or deliver batches) a ``fail_window`` quality rule stopped."""
    retries: int = 0
    verified: int = 0
    """Windows read a second time because fewer records came than the API's total."""
    recovered: int = 0
    """New records found by a verification re-read or an omissionRemedy sweep: records the
    first pass missed (offset drift, late arrivals)."""
    waiting_pending: int = 0
    """After the run: the scheme's rows not delivered yet (``pending`` and ``queued``)."""
    waiting_error: int = 0
    """After the run: the scheme's rows in ``error``, waiting for a retry."""
    waiting_dead: int = 0
    """After the run: the scheme's dead letters."""
    waiting_quarantined: int = 0
    """After the run: the scheme's rows held by quality rules."""
    failing_since: int = 0
    """After the run: the oldest run that last failed one of the scheme's error/dead rows (0: none)."""
    duration_s: float = 0.0
    quality_rules: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per quality rule: ``{rule: {"warned": n, "quarantined": n, "failed": n}}`` (module docstring)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, counts: Mapping[str, Any]) -> RunCounts:
        """Counts as a run record stores them (:meth:`as_dict`); unknown keys are ignored,
        missing ones are 0 (a run recorded before a count existed)."""
        out = cls()
        for f in fields(cls):
            value = counts.get(f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(out, f.name, value)
        rules = counts.get("quality_rules")
        if isinstance(rules, Mapping):
            out.merge_rules(rules)
        return out

    def add(self, **deltas: int) -> None:
        """Add ``deltas`` to the named counts, atomically: a run's collector and its deliver
        thread share one ``RunCounts`` and both count ``due`` and ``dead``."""
        with _ADDING:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def count_rules(self, kind: str, rules: Iterable[str]) -> None:
        """Count one ``kind`` (one of :data:`RULE_COUNTS`) for each rule named in ``rules``."""
        self.merge_rules({rule: {kind: n} for rule, n in Counter(rules).items()})

    def merge_rules(self, other: Mapping[str, Mapping[str, Any]]) -> None:
        """Add per-rule counts given as :attr:`quality_rules` holds them (another process's)."""
        with _ADDING:
            for rule, kinds in other.items():
                mine = self.quality_rules.setdefault(str(rule), dict.fromkeys(RULE_COUNTS, 0))
                for kind in RULE_COUNTS:
                    value = kinds.get(kind) if isinstance(kinds, Mapping) else None
                    if isinstance(value, int) and not isinstance(value, bool):
                        mine[kind] += value

    def collect_dead_letter(self, bucket: str = "no_id") -> None:
        """Count a record its collection kept as a dead letter: in ``bucket`` (a collect
        bucket), in ``due`` and in ``dead``."""
        self.add(**{bucket: 1, "due": 1, "dead": 1})

    @property
    def still_failing(self) -> int:
        """The scheme's rows in ``error`` or ``dead`` after the run."""
        return self.waiting_error + self.waiting_dead

    def imbalance(self, lang: str | None = None) -> list[str]:
        """What does not balance, one line per identity broken; empty when the counts balance.
        Terms are the field names, or their labels in ``lang`` (``en``/``zh``) when given."""

        def name(field: str) -> str:
            return field if lang is None else count_label(field, lang)

        def terms(fields: Sequence[str]) -> str:
            return " + ".join(f"{name(f)} {getattr(self, f)}" for f in fields)

        problems = []
        rows = self.fetched + self.flattened
        collected = sum(getattr(self, f) for f in COLLECT_BUCKETS)
        if rows != collected:
            problems.append(
                f"{terms(('fetched', 'flattened'))} = {rows} ≠ {terms(COLLECT_BUCKETS)} = {collected}"
            )
        ended = sum(getattr(self, f) for f in DELIVER_BUCKETS)
        if self.due != ended:
            problems.append(f"{terms(('due',))} ≠ {terms(DELIVER_BUCKETS)} = {ended}")
        if self.delivered_unchanged > self.delivered:
            problems.append(f"{terms(('delivered_unchanged',))} > {terms(('delivered',))}")
        return problems

    def balances(self) -> bool:
        """Whether both identities hold (see :meth:`imbalance`)."""
        return not self.imbalance()

    def equations(self, lang: str = "en") -> list[str]:
        """The two identities with this run's numbers, zero terms left out, e.g.
        ``fetched 200 + flattened rows 199 = new 399`` and ``due 399 = delivered 399``."""

        def term(name: str) -> str:
            return f"{count_label(name, lang).removeprefix('+ ')} {getattr(self, name):,}"

        def terms(names: tuple[str, ...]) -> str:
            shown = [term(name) for name in names if getattr(self, name)]
            return " + ".join(shown) or "0"

        rows = term("fetched") + (f" + {term('flattened')}" if self.flattened else "")
        return [f"{rows} = {terms(COLLECT_BUCKETS)}", f"{term('due')} = {terms(DELIVER_BUCKETS)}"]


COUNT_LABELS: dict[str, tuple[str, str]] = {
    # field: (English, 中文) -- the one vocabulary of a run's counts, for the CLI, console and metrics
    "windows": ("windows", "窗口"),
    "pages": ("pages", "页数"),
    # a window's detail (the run page's window table) and a reconciliation's
    "stored": ("stored", "已入账"),
    "total": ("API total", "接口总数"),
    "short": ("short of the total", "少于总数"),
    "held_back_s": ("held back (s)", "回退(秒)"),
    "seconds": ("seconds", "耗时(秒)"),
    "ledger": ("in the ledger", "账本中"),
    "source": ("at the source", "源端"),
    "source_total": ("source total", "源端总数"),
    "missing": ("missing", "缺失"),
    "extra": ("extra", "多余"),
    "repaired": ("repaired", "已修复"),
    "fetched": ("fetched", "获取"),
    "flattened": ("+ flattened rows", "拆分新增行"),
    "filtered_out": ("filtered out", "已过滤"),
    "no_id": ("without id", "缺少ID"),
    "repeated": ("repeated on a page", "页内重复"),
    "unchanged": ("unchanged", "未变化"),
    "new": ("new", "新增"),
    "changed": ("changed", "已变更"),
    "due": ("due", "应写入"),
    "rejected": ("rejected", "已拒收"),
    "delivered": ("delivered", "已写入"),
    "delivered_unchanged": ("already current", "目标已是最新"),
    "failed": ("failed", "失败"),
    "dead": ("dead", "死信"),
    "pending": ("still pending", "仍待写入"),
    "quarantined": ("quarantined", "已隔离"),
    "warned": ("quality warnings", "质量警告"),
    "quality_failed": ("stopped by a quality rule", "质量规则中止"),
    "waiting_quarantined": ("scheme: quarantined", "方案: 已隔离"),
    "retries": ("retries", "重试次数"),
    "verified": ("windows re-read", "复核窗口"),
    "recovered": ("recovered", "补回"),
    "waiting_pending": ("scheme: waiting", "方案: 待写入"),
    "waiting_error": ("scheme: in error", "方案: 出错待重试"),
    "waiting_dead": ("scheme: dead letters", "方案: 死信"),
    "failing_since": ("failing since run", "失败始于运行"),
    "duration_s": ("duration (s)", "耗时(秒)"),
    # the quality report (ferry.store.quality_report)
    "quality_rules": ("per quality rule", "按质量规则"),
    "collected": ("collected", "已采集"),
    "dropped": ("dropped", "已丢弃"),
    "rule": ("rule", "规则"),
}


def count_label(name: str, lang: str = "en") -> str:
    """The label of the count ``name`` in ``lang`` (``en`` or ``zh``); unknown names are returned as is."""
    labels = COUNT_LABELS.get(name)
    if labels is None:
        return name
    return labels[1] if lang == "zh" else labels[0]


def still_waiting(scheme_id: str, counts: RunCounts, lang: str = "en") -> list[str]:
    """Lines saying what the scheme still has waiting after a run, each with the command to look.

    One line for its failing rows (``error`` and ``dead``), one for its quarantined rows and
    one for its undelivered rows, shown even when the run itself delivered nothing; none when
    nothing waits.
    """
    lines = [
        _failing_line(scheme_id, counts, lang),
        _quarantined_line(scheme_id, counts.waiting_quarantined, lang),
        _pending_line(scheme_id, counts.waiting_pending, lang),
    ]
    return [line for line in lines if line]


def _plural(n: int) -> str:
    return f"{n:,} record{'s' if n != 1 else ''}"


def _failing_line(scheme_id: str, counts: RunCounts, lang: str) -> str:
    failing = counts.still_failing
    if not failing:
        return ""
    command = f"ferry records --scheme {scheme_id} --status error --status dead"
    if lang == "zh":
        since = f"（始于运行 {counts.failing_since}）" if counts.failing_since else ""
        return (
            f"{failing:,} 条记录仍失败{since}：{counts.waiting_error:,} 条出错待重试，"
            f"{counts.waiting_dead:,} 条死信。查看：{command}"
        )
    since = f" since run {counts.failing_since}" if counts.failing_since else ""
    return (
        f"{_plural(failing)} still failing{since} "
        f"({counts.waiting_error:,} in error awaiting a retry, {counts.waiting_dead:,} dead): {command}"
    )


def _quarantined_line(scheme_id: str, n: int, lang: str) -> str:
    if not n:
        return ""
    command = f"ferry quarantine list --scheme {scheme_id}"
    if lang == "zh":
        return f"{n:,} 条记录被质量规则隔离，等待处理。查看：{command}"
    return f"{_plural(n)} quarantined by quality rules, waiting for an operator: {command}"


def _pending_line(scheme_id: str, n: int, lang: str) -> str:
    if not n:
        return ""
    command = f"ferry records --scheme {scheme_id} --status pending --status queued"
    if lang == "zh":
        return f"{n:,} 条记录尚未写入，下次运行写入。查看：{command}"
    return f"{_plural(n)} still pending, delivered by the next run: {command}"


def accounting_lines(scheme_id: str, counts: Mapping[str, Any], lang: str = "en") -> list[str]:
    """A stored run's accounting in words (``counts`` as the run record holds them): the two
    identities, what does not balance, and what the scheme still had waiting after the run.
    Empty for a run recorded before the accounting existed (no ``due`` count)."""
    if "due" not in counts:
        return []
    run = RunCounts.from_dict(counts)
    prefix = "计数不平衡：" if lang == "zh" else "counts do not balance: "
    imbalance = [prefix + problem for problem in run.imbalance(lang)]
    return [*run.equations(lang), *imbalance, *still_waiting(scheme_id, run, lang)]
