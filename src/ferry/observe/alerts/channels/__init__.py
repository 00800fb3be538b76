"""Alert channels, registered by type: DingTalk, WeCom and Feishu robots, a webhook, e-mail.

:func:`build_channel` turns a channel spec into a :class:`Channel`; the HTTP channels share one
:class:`httpx.Client` (pass one with a ``transport`` to fake the receivers in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from ferry.observe.alerts.channels._base import Channel, HttpChannel
from ferry.observe.alerts.channels.email import Mailer
from ferry.observe.alerts.channels.robots import (
    DingTalkRobot,
    FeishuRobot,
    WeComRobot,
    dingtalk_sign,
    feishu_sign,
)
from ferry.observe.alerts.channels.webhook import Webhook
from ferry.observe.alerts.config import (
    ChannelSpec,
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    WebhookChannel,
    WeComChannel,
)

__all__ = [
    "Channel",
    "DingTalkRobot",
    "FeishuRobot",
    "HttpChannel",
    "Mailer",
    "WeComRobot",
    "Webhook",
    "build_channel",
    "dingtalk_sign",
    "feishu_sign",
]


def build_channel(
    name: str, spec: ChannelSpec, *, client: httpx.Client, clock: Callable[[], float] = time.time
) -> Channel:
    """The channel for ``spec`` (``client`` serves the HTTP ones; ``clock`` signs the robots)."""
    if isinstance(spec, DingTalkChannel):
        return DingTalkRobot(name, spec, client=client, clock=clock)
    if isinstance(spec, WeComChannel):
        return WeComRobot(name, spec, client=client, clock=clock)
    if isinstance(spec, FeishuChannel):
        return FeishuRobot(name, spec, client=client, clock=clock)
    if isinstance(spec, WebhookChannel):
        return Webhook(name, spec, client=client, clock=clock)
    if isinstance(spec, EmailChannel):
        return Mailer(name, spec)
    raise TypeError(f"unknown channel spec {type(spec).__name__}")
