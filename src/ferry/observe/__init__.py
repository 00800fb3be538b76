"""Observability: Prometheus metrics read from the store, and alerting with convergent incidents.

- :func:`render_metrics` (``/metrics``): records by scheme and status, queue depth, dead letters,
  runs and their durations, API calls, errors and latency per connection and API.
- :class:`AlertMonitor` with :func:`load_alert_config`: rules (run failed, error ratio, scheme
  stalled, new dead letters, API error burst) notifying DingTalk, WeCom and Feishu robots, a
  webhook or e-mail, once per incident plus one recovery.
"""

from ferry.observe.alerts import (
    AlertConfig,
    AlertEvent,
    AlertMonitor,
    Finding,
    Notice,
    describe_rules,
    list_incidents,
    list_notices,
    load_alert_config,
    parse_alert_config,
)
from ferry.observe.metrics import StoreCollector, render_metrics

__all__ = [
    "AlertConfig",
    "AlertEvent",
    "AlertMonitor",
    "Finding",
    "Notice",
    "StoreCollector",
    "describe_rules",
    "list_incidents",
    "list_notices",
    "load_alert_config",
    "parse_alert_config",
    "render_metrics",
]
