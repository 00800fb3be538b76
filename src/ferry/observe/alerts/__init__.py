"""Alert rules over the store, incidents that converge, and notices to robots, webhooks and e-mail.

    >>> config = load_alert_config("alerts.yaml")
    >>> with AlertMonitor(store, config, schemes={s.id: s for s in schemes}) as monitor:
    ...     events = monitor.evaluate()           # the scheduler calls this every settings.interval
    >>> list_incidents(store, limit=20)           # the console's alerts page

See :mod:`ferry.observe.alerts.monitor` for the convergence contract.
"""

from ferry.observe.alerts.config import AlertConfig
from ferry.observe.alerts.loader import load_alert_config, parse_alert_config
from ferry.observe.alerts.messages import Message
from ferry.observe.alerts.monitor import AlertEvent, AlertMonitor, Notice, describe_rules
from ferry.observe.alerts.rules import Finding
from ferry.store.incidents import list_incidents, list_notices

__all__ = [
    "AlertConfig",
    "AlertEvent",
    "AlertMonitor",
    "Finding",
    "Message",
    "Notice",
    "describe_rules",
    "list_incidents",
    "list_notices",
    "load_alert_config",
    "parse_alert_config",
]
