"""Per-run counters; every record a run touches is counted somewhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["COUNT_LABELS", "RunCounts", "count_label"]


@dataclass
class RunCounts:
    """What one run did. ``filtered_out`` and ``no_id`` are the only ways a fetched record is not stored."""

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
    delivered: int = 0
    """Records the target acknowledged this run (``finished``)."""
    delivered_unchanged: int = 0
    """Of ``delivered``: records the target acknowledged as already current (nothing changed)."""
    failed: int = 0
    """Records that failed this run and will be retried."""
    dead: int = 0
    """Records that failed their last attempt (dead letters)."""
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
    "filtered_out": ("filtered out", "已过滤"),
    "flattened": ("flattened rows", "拆分行"),
    "new": ("new", "新增"),
    "changed": ("changed", "已变更"),
    "unchanged": ("unchanged", "未变化"),
    "no_id": ("without id", "缺少ID"),
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
