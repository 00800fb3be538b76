"""The :class:`AlertMonitor`: evaluate every rule, keep incidents, send each notice once.

Convergence. The first evaluation that finds ``(rule, subject)`` firing opens an incident and
sends ONE alert to each of the rule's channels. Later evaluations that still find it firing
only move ``last_seen_at``. The first evaluation that does not resolves the incident and sends
ONE recovery notice to each channel that was sent (or tried) the alert. A new failure after
that is a new incident. A send that fails is recorded (``ok=False`` and the reason) and tried
again on each evaluation, up to ``settings.max_attempts``, while the incident is open or was
resolved within the last day; a failing channel never stops the others or the monitor.

A channel the alerts file leaves misconfigured (a ``${VAR}`` it needs is unset or empty, see
:attr:`AlertConfig.misconfigured`) is never sent to: each notice due to it is recorded once as
``skipped`` (with the variables it lacks), not tried and failed every evaluation. Once the
variables are set and Ferry restarts, the channel gets the alerts of the incidents still open.

Run one monitor per store (``ferry serve`` runs it in one process): two monitors evaluating
the same store at the same instant could both open the same incident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import httpx

from ferry.errors import ConfigError
from ferry.observe.alerts.channels import Channel, build_channel
from ferry.observe.alerts.config import AlertConfig, RuleSpec
from ferry.observe.alerts.messages import Message, describe_rule, describe_rule_zh, redact_text
from ferry.observe.alerts.rules import Finding, RuleContext, evaluate_rule
from ferry.store import incidents as inc

if TYPE_CHECKING:
    from ferry.scheme.model import Scheme
    from ferry.store import Store

__all__ = ["AlertEvent", "AlertMonitor", "Notice", "describe_rules", "probe_message"]

log = logging.getLogger("ferry.observe.alerts")

RETRY_WINDOW = timedelta(days=1)
"""A recovery notice that failed is retried for this long after the incident resolved."""

Change = Literal["opened", "ongoing", "resolved", "retried"]


@dataclass(frozen=True)
class Notice:
    """One send of one notice to one channel."""

    incident_id: int
    channel: str
    kind: Literal["alert", "recovery"]
    ok: bool
    error: str | None = None
    skipped: bool = False
    """Not sent: the channel is misconfigured (``error`` names the unset variables)."""


@dataclass
class AlertEvent:
    """What one evaluation did about one incident."""

    incident_id: int
    rule: str
    subject: str
    change: Change
    firing: bool
    summary: str
    notices: list[Notice] = field(default_factory=list)


def describe_rules(config: AlertConfig) -> list[dict[str, Any]]:
    """Every rule as ``{name, type, severity, schemes, channels, misconfigured, description,
    description_zh}`` (console, CLI); ``misconfigured`` lists those of its channels whose notices
    are skipped."""
    return [
        {
            "name": rule.name,
            "type": rule.type,
            "severity": rule.severity,
            "schemes": list(rule.schemes),
            "channels": config.channels_of(rule),
            "misconfigured": [c for c in config.channels_of(rule) if c in config.misconfigured],
            "description": describe_rule(rule),
            "description_zh": describe_rule_zh(rule),
        }
        for rule in config.rules
    ]


class AlertMonitor:
    """Evaluates ``config``'s rules against ``store`` and notifies its channels.

    Args:
        store: The Ferry store (incidents and notices are kept there too).
        config: The alert config (:func:`~ferry.observe.alerts.load_alert_config`).
        schemes: Loaded schemes by id; the ``stalled`` rule reads their source crontabs.
        http_client: Client for the HTTP channels (default: a new one, closed by :meth:`close`).
        clock: Wall clock (epoch seconds) that signs robot requests.
        channels: Channel objects by name, replacing those built from ``config`` (tests).
    """

    def __init__(
        self,
        store: Store,
        config: AlertConfig,
        *,
        schemes: Mapping[str, Scheme] | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.schemes: Mapping[str, Scheme] = dict(schemes or {})
        self._own_client = http_client is None
        self._client = http_client or httpx.Client(follow_redirects=False)
        self.misconfigured: dict[str, list[str]] = {
            name: names for name, names in config.misconfigured.items() if name not in (channels or {})
        }
        """Channels whose notices are skipped, with the variables they lack."""
        self.channels: dict[str, Channel] = {
            name: build_channel(name, spec, client=self._client, clock=clock)
            for name, spec in config.channels.items()
            if name not in self.misconfigured
        }
        self.channels.update(channels or {})
        self._rules: dict[str, RuleSpec] = {rule.name: rule for rule in config.rules}
        self.rule_errors: dict[str, str] = {}
        """Rules the last evaluation could not evaluate, with the reason (their incidents are kept)."""

    def __enter__(self) -> AlertMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client the monitor created."""
        if self._own_client:
            self._client.close()

    def describe_rules(self) -> list[dict[str, Any]]:
        """See :func:`describe_rules`."""
        return describe_rules(self.config)

    # -- evaluation ----------------------------------------------------------------------------

    def _scheme_ids(self) -> list[str]:
        stored = self.store.scheme_flags()
        ids = {sid for sid, enabled in stored.items() if enabled}
        ids |= {sid for sid, s in self.schemes.items() if s.enabled and stored.get(sid, True)}
        return sorted(ids)

    def findings(self, now: datetime | None = None) -> dict[str, list[Finding]]:
        """Every rule's findings at ``now`` (rules that fail to evaluate are left out), no side effects."""
        now = _aware(now)
        ctx = RuleContext(now, self._scheme_ids(), self.schemes, self.config.settings.timezone)
        out: dict[str, list[Finding]] = {}
        self.rule_errors = {}
        for rule in self.config.rules:
            try:
                with self.store.transaction() as conn:
                    out[rule.name] = evaluate_rule(rule, conn, ctx)
            except Exception as exc:  # one broken rule must not silence the others
                self.rule_errors[rule.name] = redact_text(f"{type(exc).__name__}: {exc}")
                log.warning(
                    "alert rule %s could not be evaluated: %s", rule.name, self.rule_errors[rule.name]
                )
        return out

    def evaluate(self, now: datetime | None = None) -> list[AlertEvent]:
        """Evaluate every rule at ``now`` (default: the current time), update incidents, send notices.

        Returns one event per incident opened, still firing, resolved, or whose notice was
        retried. Never raises for a channel failure (recorded as a failed notice); store
        errors propagate (:class:`~ferry.errors.RetriableError` when busy).
        """
        now = _aware(now)
        found = self.findings(now)
        events: dict[int, AlertEvent] = {}
        current: dict[tuple[str, str], Finding] = {}
        with self.store.transaction(write=True) as conn:
            open_now = inc.open_incidents(conn, list(found))
            for rule_name, items in found.items():
                firing = {f.subject: f for f in items if f.firing}
                current.update({(rule_name, f.subject): f for f in items})
                for subject, finding in firing.items():
                    known = open_now.get((rule_name, subject))
                    if known is not None:
                        inc.touch_incident(conn, known["id"], finding, now)
                        events[known["id"]] = AlertEvent(
                            known["id"], rule_name, subject, "ongoing", True, finding.summary
                        )
                    else:
                        new_id = inc.open_incident(conn, finding, now)
                        log.info("alert opened: %s %s: %s", rule_name, subject, finding.summary)
                        events[new_id] = AlertEvent(
                            new_id, rule_name, subject, "opened", True, finding.summary
                        )
                for (rule, subject), known in open_now.items():
                    if rule == rule_name and subject not in firing:
                        inc.resolve_incident(conn, known["id"], now)
                        calm = current.get((rule, subject))
                        summary = calm.summary if calm else "no longer firing (不再触发)"
                        log.info("alert resolved: %s %s", rule, subject)
                        events[known["id"]] = AlertEvent(
                            known["id"], rule, subject, "resolved", False, summary
                        )
            inc.close_orphans(conn, list(self._rules), now)
            owing = inc.recent_incidents(conn, list(self._rules), now, RETRY_WINDOW)
            state = inc.notice_state(conn, [row["id"] for row in owing])
        for row, channel, kind in self._due(owing, state):
            notice = self._send(row, channel, kind, current, now, state.get((row["id"], channel, kind)))
            event = events.get(row["id"])
            if event is None:
                firing = row["status"] == inc.OPEN
                event = AlertEvent(row["id"], row["rule"], row["subject"], "retried", firing, row["summary"])
                events[row["id"]] = event
            event.notices.append(notice)
        return sorted(events.values(), key=lambda e: e.incident_id)

    def _due(
        self, owing: list[dict[str, Any]], state: Mapping[tuple[int, str, str], inc.NoticeState]
    ) -> list[tuple[dict[str, Any], str, Literal["alert", "recovery"]]]:
        due: list[tuple[dict[str, Any], str, Literal["alert", "recovery"]]] = []
        for row in owing:
            rule = self._rules.get(row["rule"])
            if rule is None:
                continue
            for channel in self.config.channels_of(rule):
                alert = state.get((row["id"], channel, "alert"))
                if row["status"] == inc.OPEN:
                    if self._wants(channel, alert):
                        due.append((row, channel, "alert"))
                    continue
                recovery = state.get((row["id"], channel, "recovery"))
                if self._told(channel, alert) and self._wants(channel, recovery):
                    due.append((row, channel, "recovery"))
        return due

    def _wants(self, channel: str, notice: inc.NoticeState | None) -> bool:
        """Whether ``channel`` should get (or skip) this notice now: a misconfigured channel
        once (recorded as skipped), another until one send is taken or attempts run out."""
        if channel in self.misconfigured:
            return notice is None
        if notice is None or notice.attempts == 0:
            return True
        return not notice.delivered and notice.attempts < self.config.settings.max_attempts

    def _told(self, channel: str, alert: inc.NoticeState | None) -> bool:
        """Only channels that heard (or were sent, or skipped) the alert get its recovery."""
        if alert is None:
            return False
        return alert.attempts > 0 or channel in self.misconfigured

    def _message(
        self, row: Mapping[str, Any], kind: Literal["alert", "recovery"], finding: Finding | None
    ) -> Message:
        rule = self._rules[row["rule"]]
        summary = row["summary"]
        if kind == "recovery":
            now_text = (
                finding.summary
                if finding is not None and not finding.firing
                else "no longer firing (不再触发)"
            )
            summary = f"{now_text}; was 之前: {row['summary']}"
        settings = self.config.settings
        return Message(
            kind=kind,
            rule=rule.name,
            rule_type=rule.type,
            subject=row["subject"],
            severity=row["severity"],
            summary=summary,
            hint=finding.hint if finding is not None else "",
            opened_at=row["opened_at"],
            resolved_at=row["resolved_at"],
            incident_id=row["id"],
            timezone=settings.timezone,
            console_url=settings.console_url,
        )

    def _send(
        self,
        row: Mapping[str, Any],
        channel_name: str,
        kind: Literal["alert", "recovery"],
        current: Mapping[tuple[str, str], Finding],
        now: datetime,
        before: inc.NoticeState | None,
    ) -> Notice:
        if channel_name in self.misconfigured:
            return self._skip(row["id"], channel_name, kind, now)
        attempt = (before.attempts if before is not None else 0) + 1
        channel = self.channels[channel_name]
        error: str | None = None
        try:
            channel.send(self._message(row, kind, current.get((row["rule"], row["subject"]))))
        except Exception as exc:  # a failed send is recorded and retried, never fatal
            redact = getattr(channel, "redact", None)
            text = str(exc) or type(exc).__name__
            if not text.startswith(channel.describe()):
                text = f"{channel.describe()}: {type(exc).__name__}: {text}"
            error = redact(text) if callable(redact) else redact_text(text)
            log.warning("alert notice not delivered (%s, incident %s): %s", kind, row["id"], error)
        with self.store.transaction(write=True) as conn:
            inc.record_notice(conn, row["id"], channel_name, kind, error is None, error, now, attempt=attempt)
        return Notice(row["id"], channel_name, kind, error is None, error)

    def _skip(
        self, incident_id: int, channel: str, kind: Literal["alert", "recovery"], now: datetime
    ) -> Notice:
        """Record the notice as skipped: ``channel`` is misconfigured."""
        reason = f"skipped: channel misconfigured ({', '.join(self.misconfigured[channel])} unset or empty)"
        with self.store.transaction(write=True) as conn:
            inc.record_notice(conn, incident_id, channel, kind, False, reason, now, attempt=0, skipped=True)
        return Notice(incident_id, channel, kind, False, reason, skipped=True)

    def send_test(self, channel: str, now: datetime | None = None) -> None:
        """Send a test notice to ``channel`` (nothing is recorded).

        Raises:
            ConfigError: Unknown channel, or the channel refused the notice for good.
            RetriableError: The channel could not be reached or failed for now.
        """
        if channel in self.misconfigured:
            raise ConfigError(self.config.misconfigured_line(channel))
        if channel not in self.channels:
            known = ", ".join(self.channels) or "(none defined)"
            raise ConfigError(f"unknown alert channel {channel!r}; known: {known}")
        self.channels[channel].send(probe_message(self.config, _aware(now)))


def probe_message(config: AlertConfig, now: datetime | None = None) -> Message:
    """The notice ``ferry alerts test`` sends: says Ferry reached the channel."""
    return Message(
        kind="test",
        rule="test",
        rule_type="test",
        subject="ferry",
        severity="info",
        summary="Ferry can reach this channel (频道连通测试).",
        hint="ferry alerts check alerts.yaml",
        opened_at=_aware(now),
        timezone=config.settings.timezone,
        console_url=config.settings.console_url,
    )


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a tz-aware datetime (got naive {now.isoformat()})")
    return now
