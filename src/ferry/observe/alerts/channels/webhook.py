"""The generic webhook: every notice POSTed as one JSON document (:meth:`Message.as_dict`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from ferry.observe.alerts.channels._base import HttpChannel
from ferry.observe.alerts.config import WebhookChannel
from ferry.observe.alerts.messages import Message

__all__ = ["Webhook"]


class Webhook(HttpChannel):
    """POSTs ``{"source": "ferry", "kind", "status", "title", "rule", "subject", ...}``; 2xx = taken."""

    type = "webhook"

    def __init__(
        self, name: str, spec: WebhookChannel, *, client: httpx.Client, clock: Callable[[], float] = time.time
    ) -> None:
        self._headers = {key: value.get_secret_value() for key, value in spec.headers.items()}
        super().__init__(
            name,
            spec.url.get_secret_value(),
            list(self._headers.values()),
            timeout=spec.timeout,
            client=client,
            clock=clock,
        )

    def send(self, message: Message) -> None:
        """POST the message document with the configured headers; raise on a non-2xx answer."""
        self.post(message.as_dict(), headers={"User-Agent": "ferry-alerts", **self._headers})
