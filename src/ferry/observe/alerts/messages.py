"""What a notice says: one :class:`Message` per alert, recovery or test, rendered per channel.

Notices are bilingual (Chinese label, English label) and name the rule, the subject (a scheme
or a connection's API), the counts the rule found and what to run next, e.g.::

    [Ferry 告警 ALERT] 新增死信 new dead letters · kuaimai-aftersale
    方案 Scheme: kuaimai-aftersale
    规则 Rule: dead_letters (dead_letters, warning)
    详情 Details: 3 new dead letters in the last 1:00:00 (新增死信 3 条); 5 dead in all
    开始 Since: 2024-05-03 20:00:00 (Asia/Shanghai)
    建议 Next: ferry records --scheme kuaimai-aftersale --status dead
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ferry._redact import redact
from ferry.observe.alerts.config import (
    DeadLettersRule,
    ErrorRatioRule,
    FreshnessRule,
    QualityFailedRule,
    RuleSpec,
    RunFailedRule,
    SchemaDriftRule,
    StalledRule,
    VolumeAnomalyRule,
)

__all__ = ["RULE_TITLES", "Message", "describe_rule", "describe_rule_zh", "fmt_duration", "redact_text"]

RULE_TITLES: dict[str, tuple[str, str]] = {
    "run_failed": ("运行失败", "run failed"),
    "error_ratio": ("失败率过高", "error ratio too high"),
    "stalled": ("方案停滞", "scheme stalled"),
    "dead_letters": ("新增死信", "new dead letters"),
    "api_error_burst": ("接口错误激增", "API error burst"),
    "volume_anomaly": ("数据量异常", "volume anomaly"),
    "freshness": ("数据不新鲜", "data not fresh"),
    "schema_drift": ("结构漂移", "schema drift"),
    "test": ("测试消息", "test message"),
}
"""Rule type -> (Chinese, English) title."""


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every value of ``secrets``, URL passwords and secret-looking query values
    masked (see :func:`ferry._redact.redact`)."""
    return redact(text, secrets)


def fmt_duration(delta: timedelta) -> str:
    """``1d 2h``, ``3h 5m``, ``12m``, ``40s``: the two largest units."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    if not parts:
        return f"{secs}s"
    return " ".join(parts[:2])


@dataclass(frozen=True)
class Message:
    """One notice about one incident (or a channel test), independent of the channel."""

    kind: Literal["alert", "recovery", "test"]
    rule: str
    rule_type: str
    subject: str
    severity: str
    summary: str
    hint: str
    opened_at: datetime
    resolved_at: datetime | None = None
    incident_id: int | None = None
    timezone: str = "Asia/Shanghai"
    console_url: str | None = None

    @property
    def subject_label(self) -> str:
        """``方案 Scheme`` or ``接口 API``."""
        return "接口 API" if self.rule_type == "api_error_burst" else "方案 Scheme"

    def _time(self, value: datetime) -> str:
        return value.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def title(self) -> str:
        """One line: kind, rule title in both languages, subject."""
        zh, en = RULE_TITLES.get(self.rule_type, (self.rule_type, self.rule_type))
        head = {
            "alert": "[Ferry 告警 ALERT]",
            "recovery": "[Ferry 恢复 RESOLVED]",
            "test": "[Ferry 测试 TEST]",
        }
        return f"{head[self.kind]} {zh} {en} · {self.subject}"

    def fields(self) -> list[tuple[str, str]]:
        """``(label, value)`` pairs shown under the title, in order."""
        out = [
            (self.subject_label, self.subject),
            ("规则 Rule", f"{self.rule} ({self.rule_type}, {self.severity})"),
            ("详情 Details", self.summary),
        ]
        if self.kind == "recovery" and self.resolved_at is not None:
            lasted = fmt_duration(self.resolved_at - self.opened_at)
            out.append(
                (
                    "持续 Lasted",
                    f"{self._time(self.opened_at)} → {self._time(self.resolved_at)} ({lasted}, {self.timezone})",
                )
            )
        else:
            out.append(("开始 Since", f"{self._time(self.opened_at)} ({self.timezone})"))
        if self.hint:
            out.append(("建议 Next", self.hint))
        if self.incident_id is not None:
            out.append(("事件 Incident", f"#{self.incident_id}"))
        if self.console_url:
            out.append(("控制台 Console", self.console_url.rstrip("/") + "/alerts"))
        return out

    def text(self) -> str:
        """Plain text: the title, then one ``label: value`` line per field."""
        return "\n".join([self.title, *(f"{label}: {value}" for label, value in self.fields())])

    def markdown(self) -> str:
        """Markdown for the robots: a bold title and a list of fields (hint as code)."""
        lines = [f"**{self.title}**", ""]
        for label, value in self.fields():
            shown = f"`{value}`" if label == "建议 Next" else value
            lines.append(f"- **{label}**: {shown}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document a generic webhook receives."""
        return {
            "source": "ferry",
            "kind": self.kind,
            "status": {"alert": "firing", "recovery": "resolved", "test": "test"}[self.kind],
            "title": self.title,
            "rule": self.rule,
            "rule_type": self.rule_type,
            "subject": self.subject,
            "severity": self.severity,
            "summary": self.summary,
            "hint": self.hint,
            "incident_id": self.incident_id,
            "opened_at": self.opened_at.isoformat(),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "text": self.text(),
        }


def describe_rule(rule: RuleSpec) -> str:
    """One sentence saying when ``rule`` fires, with its parameters (for the console and the CLI)."""
    scope = f" (schemes {', '.join(rule.schemes)})" if rule.schemes else ""
    if isinstance(rule, RunFailedRule):
        kinds = "/".join(rule.kinds)
        text = f"the latest finished {kinds} run of a scheme failed (runs a shutdown stopped do not count)"
    elif isinstance(rule, ErrorRatioRule):
        text = (
            f"more than {rule.threshold:.0%} of a scheme's deliveries failed in the last "
            f"{fmt_duration(rule.window)} (at least {rule.min_records} deliveries)"
        )
    elif isinstance(rule, StalledRule):
        text = (
            f"a scheme had no successful collect for {rule.intervals} slot(s) of its source schedule "
            f"(plus {fmt_duration(rule.grace)} grace)"
        )
    elif isinstance(rule, DeadLettersRule):
        text = f"at least {rule.min_count} record(s) went dead in the last {fmt_duration(rule.window)}"
    elif isinstance(rule, VolumeAnomalyRule | FreshnessRule):
        text = _describe_data(rule)
    elif isinstance(rule, SchemaDriftRule):
        text = "a scheme's source fields appeared, disappeared or changed type and nobody accepted it yet"
    elif isinstance(rule, QualityFailedRule):
        text = "a scheme's latest run was stopped by a fail_window quality rule (its cursor did not move)"
    else:
        conns = f" on {', '.join(rule.connections)}" if rule.connections else ""
        text = f"an API{conns} answered {rule.errors}+ errors within {fmt_duration(rule.window)}"
    return f"Fires when {text}{scope}."


def _describe_data(rule: VolumeAnomalyRule | FreshnessRule) -> str:
    if isinstance(rule, FreshnessRule):
        active = f" of active time ({rule.active_hours})" if rule.active_hours else ""
        return f"a scheme found no new record for more than {fmt_duration(rule.max_age)}{active}"
    way = {"both": "far more or fewer", "drop": "far fewer", "spike": "far more"}[rule.direction]
    zero = (
        f", or none where the median is at least {rule.zero_when_median_at_least:g}"
        if rule.zero_when_median_at_least is not None and rule.direction != "spike"
        else ""
    )
    return (
        f"a scheme's newest window collected {way} records than the same hour of the week in the "
        f"last {rule.days} days (robust z-score beyond {rule.threshold:g}){zero}"
    )


def _describe_data_zh(rule: VolumeAnomalyRule | FreshnessRule) -> str:
    if isinstance(rule, FreshnessRule):
        active = f"（仅计活跃时段 {rule.active_hours}）" if rule.active_hours else ""
        return f"方案超过 {fmt_duration_zh(rule.max_age)}没有采集到新记录{active}"
    way = {"both": "骤增或骤降", "drop": "骤降", "spike": "骤增"}[rule.direction]
    zero = (
        f"，或在中位数不低于 {rule.zero_when_median_at_least:g} 时为零"
        if rule.zero_when_median_at_least is not None and rule.direction != "spike"
        else ""
    )
    return (
        f"方案最新窗口的采集量相比最近 {rule.days} 天同一周时段{way}"
        f"（稳健 z 分数超过 {rule.threshold:g}）{zero}"
    )


RUN_KINDS_ZH = {"run": "运行", "collect": "采集", "deliver": "推送", "replay": "重推"}


def fmt_duration_zh(delta: timedelta) -> str:
    """:func:`fmt_duration` in Chinese: ``1 天 2 小时``, ``3 小时 5 分钟``, ``12 分钟``, ``40 秒``."""
    units = {"d": "天", "h": "小时", "m": "分钟", "s": "秒"}
    return " ".join(f"{part[:-1]} {units[part[-1]]}" for part in fmt_duration(delta).split())


def describe_rule_zh(rule: RuleSpec) -> str:
    """:func:`describe_rule` in Chinese (the console in 中文)."""
    scope = f"（方案 {', '.join(rule.schemes)}）" if rule.schemes else ""
    if isinstance(rule, RunFailedRule):
        kinds = "/".join(RUN_KINDS_ZH.get(kind, kind) for kind in rule.kinds)
        text = f"方案最近一次结束的{kinds}失败（因停机而中止的运行不计）"
    elif isinstance(rule, ErrorRatioRule):
        text = (
            f"最近 {fmt_duration_zh(rule.window)}内方案的推送失败超过 {rule.threshold:.0%}"
            f"（至少 {rule.min_records} 次推送）"
        )
    elif isinstance(rule, StalledRule):
        text = f"方案连续 {rule.intervals} 个源调度周期没有成功采集（另加 {fmt_duration_zh(rule.grace)}宽限）"
    elif isinstance(rule, DeadLettersRule):
        text = f"最近 {fmt_duration_zh(rule.window)}内至少 {rule.min_count} 条记录成为死信"
    elif isinstance(rule, VolumeAnomalyRule | FreshnessRule):
        text = _describe_data_zh(rule)
    elif isinstance(rule, SchemaDriftRule):
        text = "方案的源字段出现、消失或类型改变（结构漂移），且尚未确认"
    elif isinstance(rule, QualityFailedRule):
        text = "方案最近一次运行被 fail_window 质量规则中止（窗口游标未前进）"
    else:
        conns = f"（连接 {', '.join(rule.connections)}）" if rule.connections else ""
        text = f"接口{conns}在 {fmt_duration_zh(rule.window)}内报错 {rule.errors} 次及以上"
    return f"触发条件：{text}{scope}。"
