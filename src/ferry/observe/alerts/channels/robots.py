"""The group robots of DingTalk (钉钉), WeCom (企业微信) and Feishu (飞书), signed as each vendor documents.

- DingTalk: with a 加签 secret, the URL gets ``timestamp`` (ms) and
  ``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))`` (URL-encoded);
  the answer is ``{"errcode": 0, "errmsg": "ok"}`` (310000: signature or keyword refused).
- WeCom: the key in the URL is the credential; answer ``{"errcode": 0, "errmsg": "ok"}``.
- Feishu: with a signature secret, the body gets ``timestamp`` (s) and
  ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``; the answer is
  ``{"code": 0, "msg": "success"}`` (19021: signature refused).

Both timestamps come from the real clock (vendors refuse one more than an hour off), never the
monitor's evaluation time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar

import httpx

from ferry.observe.alerts.channels._base import HttpChannel
from ferry.observe.alerts.config import DingTalkChannel, FeishuChannel, WeComChannel
from ferry.observe.alerts.messages import Message

__all__ = ["DingTalkRobot", "FeishuRobot", "WeComRobot", "dingtalk_sign", "feishu_sign"]

DINGTALK_FATAL = {300001, 300005, 310000, 400013}
"""DingTalk codes retrying cannot fix: bad token, robot missing, sign/keyword/IP refused."""
WECOM_FATAL = {40008, 93000, 93004}
"""WeCom codes retrying cannot fix: bad message type, bad webhook key, robot removed."""
MAX_WECOM_BYTES = 4096
"""WeCom refuses markdown content longer than this many UTF-8 bytes."""
FEISHU_FATAL = {9499, 19001, 19021, 19022, 19024}
"""Feishu codes retrying cannot fix: bad request, bad hook, signature/IP/keyword refused."""


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk's 加签: base64 HMAC-SHA256 of ``"{timestamp}\\n{secret}"`` keyed by the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """Feishu's signature: base64 HMAC-SHA256 of nothing, keyed by ``"{timestamp}\\n{secret}"``."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Robot(HttpChannel):
    """What the three robots share: the webhook URL, an optional signing secret, the answer check."""

    fatal: ClassVar[AbstractSet[int]] = frozenset()
    """Vendor codes retrying cannot fix (raised as ``ConfigError``)."""
    code_keys: ClassVar[tuple[str, ...]] = ("errcode",)
    text_keys: ClassVar[tuple[str, ...]] = ("errmsg",)

    def __init__(
        self,
        name: str,
        spec: DingTalkChannel | WeComChannel | FeishuChannel,
        *,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = getattr(spec, "secret", None)
        self._secret: str | None = secret.get_secret_value() if secret else None
        super().__init__(
            name,
            spec.webhook.get_secret_value(),
            [self._secret or ""],
            timeout=spec.timeout,
            client=client,
            clock=clock,
        )

    def deliver(self, payload: dict[str, Any], params: dict[str, str] | None = None) -> None:
        """POST ``payload``; raise on an HTTP error or a non-zero code in the robot's answer."""
        data = self.answer(self.post(payload, params=params))
        code = next((data[key] for key in self.code_keys if key in data), 0)
        if code not in (0, None):
            text = next((data[key] for key in self.text_keys if data.get(key)), None)
            raise self.vendor_error(code, text, self.fatal)


class DingTalkRobot(_Robot):
    """A DingTalk custom robot (markdown messages; @ mentions in alerts)."""

    type = "dingtalk"
    fatal = DINGTALK_FATAL

    def __init__(
        self,
        name: str,
        spec: DingTalkChannel,
        *,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, spec, client=client, clock=clock)
        self._spec = spec

    def send(self, message: Message) -> None:
        """POST one markdown message; raise on an HTTP error or a non-zero ``errcode``."""
        text = message.markdown()
        alert = message.kind == "alert"
        if alert and self._spec.at_mobiles:
            text += "\n\n" + " ".join(f"@{m}" for m in self._spec.at_mobiles)
        payload: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": text},
            "at": {
                "atMobiles": list(self._spec.at_mobiles) if alert else [],
                "isAtAll": bool(self._spec.at_all and alert),
            },
        }
        params = None
        if self._secret:
            timestamp = str(int(self._clock() * 1000))
            params = {"timestamp": timestamp, "sign": dingtalk_sign(timestamp, self._secret)}
        self.deliver(payload, params)


class WeComRobot(_Robot):
    """A WeCom group robot (markdown; a text message when alerts @ phone numbers)."""

    type = "wecom"
    fatal = WECOM_FATAL

    def __init__(
        self, name: str, spec: WeComChannel, *, client: httpx.Client, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(name, spec, client=client, clock=clock)
        self._spec = spec

    def send(self, message: Message) -> None:
        """POST one message; raise on an HTTP error or a non-zero ``errcode``."""
        payload: dict[str, Any]
        if message.kind == "alert" and self._spec.mentioned_mobiles:
            payload = {
                "msgtype": "text",
                "text": {"content": message.text(), "mentioned_mobile_list": self._spec.mentioned_mobiles},
            }
        else:
            content = message.markdown().encode()[:MAX_WECOM_BYTES].decode(errors="ignore")
            payload = {"msgtype": "markdown", "markdown": {"content": content}}
        self.deliver(payload)


class FeishuRobot(_Robot):
    """A Feishu custom bot (a ``post`` rich-text message: title plus one line per field)."""

    type = "feishu"
    fatal = FEISHU_FATAL
    code_keys = ("code", "StatusCode")
    text_keys = ("msg", "StatusMessage")

    def send(self, message: Message) -> None:
        """POST one message; raise on an HTTP error or a non-zero ``code``/``StatusCode``."""
        lines = [[{"tag": "text", "text": f"{label}: {value}"}] for label, value in message.fields()]
        payload: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": message.title, "content": lines}}},
        }
        if self._secret:
            timestamp = str(int(self._clock()))
            payload = {"timestamp": timestamp, "sign": feishu_sign(timestamp, self._secret), **payload}
        self.deliver(payload)
