"""The alerts file: channels (where notices go) and rules (what is watched), as pydantic models.

::

    settings: {timezone: Asia/Shanghai, interval: 1m, max_attempts: 10}
    channels:
      ops-dingtalk:
        type: dingtalk
        webhook: https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}
        secret: ${DINGTALK_SECRET}          # the robot's 加签 secret (SEC...)
      oncall-mail:
        type: email
        host: smtp.example.com
        security: starttls
        username: ferry@example.com
        password: ${SMTP_PASSWORD}
        from: ferry@example.com
        to: [ops@example.com]
    rules:
      - {type: run_failed}
      - {type: error_ratio, threshold: 0.2, window: 1h, min_records: 20}
      - {type: stalled, intervals: 3, schemes: ["kuaimai-*"]}
      - {type: dead_letters, window: 1h, channels: [ops-dingtalk]}
      - {type: api_error_burst, errors: 5, window: 10m}
      - {type: volume_anomaly, days: 28, threshold: 3.5, zero_when_median_at_least: 5}
      - {type: freshness, max_age: 2h, active_hours: "08:00-22:00"}
      - {type: schema_drift}

``${VAR}`` references in channels are expanded from the environment by
:func:`~ferry.observe.alerts.loader.load_alert_config` (the same expansion as
``connections.yaml``); every secret is a :class:`~pydantic.SecretStr` and never printed.
"""

from __future__ import annotations

import fnmatch
from datetime import time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from ferry.scheme.model import parse_duration

__all__ = [
    "CHANNEL_TYPES",
    "RULE_FIELD_HINTS",
    "RULE_TYPES",
    "AlertConfig",
    "AlertSettings",
    "ApiErrorBurstRule",
    "ChannelSpec",
    "DeadLettersRule",
    "DingTalkChannel",
    "EmailChannel",
    "ErrorRatioRule",
    "FeishuChannel",
    "FreshnessRule",
    "QualityFailedRule",
    "RuleSpec",
    "RunFailedRule",
    "SchemaDriftRule",
    "StalledRule",
    "VolumeAnomalyRule",
    "WeComChannel",
    "WebhookChannel",
]

Severity = Literal["info", "warning", "critical"]
RunKind = Literal["run", "collect", "deliver", "replay"]
DEFAULT_KINDS: tuple[RunKind, ...] = ("run", "collect", "deliver")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(value: Any) -> Any:
    return None if value is None else parse_duration(value)


# -- channels ----------------------------------------------------------------------------------


class _Channel(_Strict):
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the channel to answer.")

    @field_validator("webhook", "url", check_fields=False)
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")  # the value may hold a token: not shown
        return value


class DingTalkChannel(_Channel):
    """A DingTalk (钉钉) group robot; with ``secret`` every request is signed (加签)."""

    type: Literal["dingtalk"]
    webhook: SecretStr = Field(description="The robot URL, with its access_token.")
    secret: SecretStr | None = Field(None, description="The robot's signing secret (starts with SEC).")
    at_mobiles: list[str] = Field(default_factory=list, description="Phone numbers to @ in alerts.")
    at_all: bool = Field(False, description="@ everyone in alerts (not in recoveries).")


class WeComChannel(_Channel):
    """A WeCom (企业微信) group robot."""

    type: Literal["wecom"]
    webhook: SecretStr = Field(description="The robot URL, with its key.")
    mentioned_mobiles: list[str] = Field(default_factory=list, description="Phone numbers to @ in alerts.")


class FeishuChannel(_Channel):
    """A Feishu/Lark (飞书) custom bot; with ``secret`` every request carries its signature."""

    type: Literal["feishu"]
    webhook: SecretStr = Field(description="The bot URL (.../open-apis/bot/v2/hook/<token>).")
    secret: SecretStr | None = Field(None, description="The bot's signature secret (签名校验).")


class WebhookChannel(_Channel):
    """Any HTTP endpoint: each notice is POSTed as JSON (see the README for its fields)."""

    type: Literal["webhook"]
    url: SecretStr = Field(description="Where to POST; may hold a token, so it is treated as a secret.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra headers, e.g. Authorization: Bearer ${TOKEN}."
    )


class EmailChannel(_Channel):
    """E-mail through an SMTP server (plain, STARTTLS or implicit TLS)."""

    type: Literal["email"]
    host: str = Field(min_length=1, description="SMTP server.")
    port: int | None = Field(None, ge=1, le=65535, description="Default 25, 587 (starttls) or 465 (ssl).")
    security: Literal["none", "starttls", "ssl"] = Field("starttls", description="How to protect the link.")
    verify: bool = Field(True, description="Check the server's certificate (TLS only).")
    ca_file: str | None = Field(None, description="CA bundle to trust instead of the system's.")
    username: str | None = Field(None, description="Log in as this user (omit for no login).")
    password: SecretStr | None = None
    sender: str = Field(alias="from", min_length=3, description="The From address.")
    to: list[str] = Field(min_length=1, description="Recipients.")
    subject_prefix: str = Field("", description="Put before every subject, e.g. [prod].")

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]


ChannelSpec = Annotated[
    DingTalkChannel | WeComChannel | FeishuChannel | WebhookChannel | EmailChannel,
    Field(discriminator="type"),
]
CHANNEL_TYPES = ("dingtalk", "email", "feishu", "webhook", "wecom")

# -- rules -------------------------------------------------------------------------------------


class _Rule(_Strict):
    name: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="Unique rule name (default: its type); incidents are keyed by it.",
    )
    schemes: list[str] = Field(
        default_factory=list, description="Scheme ids or patterns (kuaimai-*) to watch; empty = all."
    )
    channels: list[str] | None = Field(None, description="Channel names to notify; default: every channel.")
    severity: Severity = "warning"

    @field_validator("window", "grace", mode="before", check_fields=False)
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _duration(value)

    @model_validator(mode="after")
    def _default_name(self) -> _Rule:
        if not self.name:
            self.name = str(getattr(self, "type", ""))
        return self

    def watches(self, scheme_id: str | None) -> bool:
        """Whether ``scheme_id`` matches ``schemes`` (an empty list matches everything)."""
        if not self.schemes:
            return True
        return scheme_id is not None and any(fnmatch.fnmatchcase(scheme_id, p) for p in self.schemes)


class RunFailedRule(_Rule):
    """Fires while a scheme's latest finished run failed; recovers with the next good run.

    A run a shutdown stopped (error ``stopped: ...``; the next run resumes it) does not count.
    """

    type: Literal["run_failed"]
    severity: Severity = "critical"
    kinds: list[RunKind] = Field(default_factory=lambda: list(DEFAULT_KINDS), description="Which runs count.")


class ErrorRatioRule(_Rule):
    """Fires while more than ``threshold`` of the records delivered in ``window`` failed."""

    type: Literal["error_ratio"]
    threshold: float = Field(0.2, gt=0, le=1, description="Share of failed deliveries, 0-1.")
    window: timedelta = Field(timedelta(hours=1), description="Look at runs finished this long ago.")
    min_records: int = Field(10, ge=1, description="Stay quiet below this many deliveries.")


class StalledRule(_Rule):
    """Fires when a scheme had no successful collect for ``intervals`` slots of its source crontab."""

    type: Literal["stalled"]
    intervals: int = Field(3, ge=1, le=1000, description="Missed schedule slots before it fires.")
    grace: timedelta = Field(timedelta(minutes=5), description="Time a run may take after its slot.")


class DeadLettersRule(_Rule):
    """Fires while records went dead in the last ``window``; recovers after a quiet window."""

    type: Literal["dead_letters"]
    window: timedelta = Field(timedelta(hours=1), description="How recent a dead letter counts as new.")
    min_count: int = Field(1, ge=1, description="New dead letters needed to fire.")


class ApiErrorBurstRule(_Rule):
    """Fires while a connection's API answered ``errors`` or more errors within ``window``.

    A throttling answer (the vendor's rate limit, waited out and retried) is not an error here:
    it is counted as ``throttled`` (``ferry_api_throttled_total``).
    """

    type: Literal["api_error_burst"]
    errors: int = Field(5, ge=1, description="Errors within the window that make a burst.")
    window: timedelta = Field(timedelta(minutes=10), description="Sliding window.")
    connections: list[str] = Field(
        default_factory=list, description="Connection names/patterns; empty = all."
    )


class VolumeAnomalyRule(_Rule):
    """Fires while a scheme's newest window collected far more or far fewer records than the
    comparable windows of the last ``days`` did (:mod:`ferry.observe.anomaly`).

    A window's count is its ``stored`` figure: the records it collected after the scheme's
    ``condition`` (what "orders per hour" means; a ``beatFlat`` record counts once per row).
    Comparable windows are of a similar length (within 2x; counts are scaled to the judged
    window's length) and fall in the same hour of the same weekday, or, while fewer than
    ``min_samples`` do, the same hour of any day. The robust z-score
    ``(count - median) / (1.4826 * MAD)``, its scale floored at ``min_spread * median``,
    ``sqrt(median)`` and 1, fires beyond ``threshold``; a window of zero records fires on
    its own when the median is at least ``zero_when_median_at_least``.
    """

    type: Literal["volume_anomaly"]
    days: int = Field(
        28, ge=7, le=366, description="History read: the windows of the last this many days (7+)."
    )
    threshold: float = Field(
        3.5, gt=0, le=100, description="Robust z-score beyond which a window is anomalous."
    )
    min_samples: int = Field(
        4, ge=3, le=1000, description="Comparable windows needed for a verdict (else: no verdict)."
    )
    min_spread: float = Field(
        0.15, ge=0, le=10, description="Floor of the z-score's scale, as a share of the median."
    )
    zero_when_median_at_least: float | None = Field(
        5, ge=1, description="A window of zero records fires when the median is at least this; null: off."
    )
    direction: Literal["both", "drop", "spike"] = Field(
        "both", description="Fire on drops, spikes or both (the zero test is a drop)."
    )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FreshnessRule(_Rule):
    """Fires while a scheme found no new record for longer than ``max_age``.

    A record is new when the ledger did not hold it (a run's ``new`` count); it counts from the
    end of the run that found it. With ``active_hours`` (and ``active_days``) only active time
    counts: a quiet night does not age the data, so the rule neither fires at night nor right
    after it. Times are in the scheme's time zone (else ``settings.timezone``).
    """

    type: Literal["freshness"]
    max_age: timedelta = Field(timedelta(hours=2), description="Longest time without a new record.")
    active_hours: str | None = Field(
        None, description="HH:MM-HH:MM, e.g. 08:00-22:00 (may wrap midnight); null: all day."
    )
    active_days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1, description="Days that count (mon..sun)."
    )

    @field_validator("max_age", mode="before")
    @classmethod
    def _max_age(cls, value: Any) -> Any:
        age = _duration(value)
        if age is not None and age <= timedelta(0):
            raise ValueError("must be a positive duration, e.g. 2h")
        return age

    @field_validator("active_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_active_hours(value)
        return value

    @property
    def hours(self) -> tuple[time, time] | None:
        """``active_hours`` as ``(from, to)``; ``None`` when the whole day is active."""
        return None if self.active_hours is None else parse_active_hours(self.active_hours)


def parse_active_hours(text: str) -> tuple[time, time]:
    """``"08:00-22:00"`` -> ``(08:00, 22:00)``; ``"22:00-06:00"`` wraps midnight.

    Raises:
        ValueError: Not ``HH:MM-HH:MM``, or an empty range.
    """
    try:
        first, second = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"invalid active_hours {text[:40]!r}; write HH:MM-HH:MM, e.g. 08:00-22:00") from None
    if first == second:
        raise ValueError(f"active_hours {text!r} is an empty range; omit it to count the whole day")
    return first, second


RULE_FIELD_HINTS: dict[str, str] = {
    "volume_anomaly.days": "hour-of-week history needs at least a week; 28 gives four samples of each hour",
    "volume_anomaly.min_samples": "a median of fewer than 3 windows is no median; 4 = four weeks of an hour",
    "volume_anomaly.threshold": "3.5 is the usual cut-off of a robust z-score (smaller fires more often)",
    "volume_anomaly.zero_when_median_at_least": "a number of records, e.g. 5; null turns the zero test off",
    "freshness.max_age": "a duration such as 30m, 2h or 1d, longer than the scheme's longest run",
    "freshness.active_hours": 'quote it in YAML: active_hours: "08:00-22:00"',
    "freshness.active_days": "a list such as [mon, tue, wed, thu, fri]",
}
"""Hints shown under a rule field's validation error, by ``<rule type>.<field>``."""


class SchemaDriftRule(_Rule):
    """Fires while a scheme has open schema drift events: source fields that appeared, disappeared
    or changed type (``settings.schema_drift`` warn, quarantine or fail); recovers once they are
    accepted (``ferry drift accept SCHEME``)."""

    type: Literal["schema_drift"]


class QualityFailedRule(_Rule):
    """Fires while a scheme's latest finished run was stopped by a ``fail_window`` quality rule
    (the window's cursor did not move); recovers with the next run that passes its rules."""

    type: Literal["quality_failed"]
    severity: Severity = "critical"


RuleSpec = Annotated[
    RunFailedRule
    | ErrorRatioRule
    | StalledRule
    | DeadLettersRule
    | ApiErrorBurstRule
    | VolumeAnomalyRule
    | FreshnessRule
    | SchemaDriftRule
    | QualityFailedRule,
    Field(discriminator="type"),
]
RULE_TYPES = (
    "api_error_burst",
    "dead_letters",
    "error_ratio",
    "freshness",
    "quality_failed",
    "run_failed",
    "schema_drift",
    "stalled",
    "volume_anomaly",
)

# -- the file ----------------------------------------------------------------------------------


class AlertSettings(_Strict):
    """How the monitor behaves."""

    timezone: str = Field("Asia/Shanghai", description="Zone of the times shown in notices.")
    interval: timedelta = Field(timedelta(minutes=1), description="How often `ferry serve` evaluates.")
    max_attempts: int = Field(10, ge=1, le=1000, description="Sends of one notice before giving up.")
    console_url: str | None = Field(None, description="Console address, linked from every notice.")

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value


class AlertConfig(_Strict):
    """A whole alerts file. Rule names are unique and every channel a rule names exists."""

    settings: AlertSettings = Field(default_factory=AlertSettings)
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)
    _misconfigured: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    def channels_of(self, rule: RuleSpec) -> list[str]:
        """The channel names ``rule`` notifies, in file order."""
        return list(self.channels) if rule.channels is None else list(rule.channels)

    @property
    def misconfigured(self) -> dict[str, list[str]]:
        """Channels that cannot work as configured, by name: the ``${VAR}`` variables each needs
        that are unset or empty (found by :func:`~ferry.observe.alerts.load_alert_config`).
        Their notices are skipped, not sent (see :class:`~ferry.observe.alerts.AlertMonitor`)."""
        return dict(self._misconfigured)

    def mark_misconfigured(self, found: dict[str, list[str]]) -> None:
        """Record which channels are misconfigured (the loader does, after validation)."""
        self._misconfigured = {name: list(names) for name, names in found.items() if names}

    def misconfigured_lines(self) -> list[str]:
        """One line per misconfigured channel, naming it and its unset variables."""
        return [self.misconfigured_line(name) for name in self._misconfigured]

    def misconfigured_line(self, name: str) -> str:
        """What is wrong with misconfigured channel ``name``, and what to do, in one line."""
        names = self._misconfigured.get(name, [])
        one = len(names) == 1
        return (
            f"alert channel {name!r} is misconfigured: {', '.join(names)} {'is' if one else 'are'} "
            f"unset or empty; its notices are skipped (counted as misconfigured): set "
            f"{'it' if one else 'them'} and restart Ferry"
        )
