"""Per-run counters; every record a run touches is counted somewhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["COUNT_LABELS", "RunCounts", "count_label"]


@dataclass
class RunCounts:
    """What one run did. ``filtered_out`` is the only way a fetched record is not stored; a record
    without an id (``no_id``) or that cannot be stored as it is (``rejected``) is stored as a
    dead letter (:mod:`ferry.engine.dead_letters`) and counted in ``dead`` as well."""

    windows: int = 0
    pages: int = 0
    fetched: int = 0
    """Records the source returned."""
    filtered_out: int = 0
    """Records the ``condition`` dropped (not stored, by design)."""
    flattened: int = 0
    """Ledger rows produced by ``beatFlat`` (one per array element)."""
    new: int = 0
    changed: int = 0
    """Known ids whose content changed and went back to pending."""
    unchanged: int = 0
    """Known ids skipped by idCheck."""
    no_id: int = 0
    """Records without an id: stored as dead letters with the reason."""
    rejected: int = 0
    """Records that cannot be stored as they are (unreadable, an id or number the ledger cannot
    keep, ids that would collide): stored as dead letters with the reason and their raw text."""
    delivered: int = 0
    """Records the target acknowledged this run (``finished``)."""
    delivered_unchanged: int = 0
    """Of ``delivered``: records the target acknowledged as already current (nothing changed)."""
    failed: int = 0
    """Records that failed this run and will be retried."""
    dead: int = 0
    """Dead letters: records that failed their last delivery attempt, plus the records this run
    collected as dead letters (``no_id`` and ``rejected``)."""
    retries: int = 0
    verified: int = 0
    """Windows read a second time because fewer records came than the API's total."""
    recovered: int = 0
    """New records found by a verification re-read or an omissionRemedy sweep: records the
    first pass missed (offset drift, late arrivals)."""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


COUNT_LABELS: dict[str, tuple[str, str]] = {
    # field: (English, 中文) -- the one vocabulary of a run's counts, for the CLI, console and metrics
    "windows": ("windows", "窗口"),
    "pages": ("pages", "页数"),
    "fetched": ("fetched", "获取"),
    "filtered_out": ("filtered out", "已过滤"),
    "flattened": ("flattened rows", "拆分行"),
    "new": ("new", "新增"),
    "changed": ("changed", "已变更"),
    "unchanged": ("unchanged", "未变化"),
    "no_id": ("without id", "缺少ID"),
    "rejected": ("rejected", "已拒收"),
    "delivered": ("delivered", "已写入"),
    "delivered_unchanged": ("already current", "目标已是最新"),
    "failed": ("failed", "失败"),
    "dead": ("dead", "死信"),
    "retries": ("retries", "重试次数"),
    "verified": ("windows re-read", "复核窗口"),
    "recovered": ("recovered", "补回"),
    "duration_s": ("duration (s)", "耗时(秒)"),
}


def count_label(name: str, lang: str = "en") -> str:
    """The label of the count ``name`` in ``lang`` (``en`` or ``zh``); unknown names are returned as is."""
    labels = COUNT_LABELS.get(name)
    if labels is None:
        return name
    return labels[1] if lang == "zh" else labels[0]
