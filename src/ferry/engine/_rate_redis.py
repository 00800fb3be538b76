"""Sliding-window rate budgets shared through Redis (``FERRY_RATE_REDIS_URL``).

The same contract as the store's budget (:meth:`Store.reserve_call
<ferry.store.Store.reserve_call>`), kept in two keys per budget key and changed only by Lua
scripts, so a reservation is atomic across every process and host using the Redis server:

- ``{prefix}{<key>}:calls`` -- a sorted set, one member per reserved call, scored by its time
  (the reservation, moved to the call's end when it ends);
- ``{prefix}{<key>}:not_before`` -- the time before which no call may start (a throttling
  answer pushed it forward).

Both keys carry a TTL (the longest window, or the rest of the penalty, plus a minute), so an
idle budget disappears by itself. The braces make both keys of a budget one Redis Cluster
hash slot.

Times are the caller's clock (``now``, epoch seconds), not Redis ``TIME``: the pacer's clock
stays injectable for tests and the semantics stay identical to the store's. Hosts sharing a
budget therefore need synchronised clocks (NTP), as they do for the store.

Errors, by what the operator should do:

- a URL that cannot be parsed, a rejected password, a missing database, or no answer at the
  first contact of this process -> :class:`~ferry.errors.ConfigError` (the run ends "invalid"
  before any vendor call; a wrong host or port looks exactly like a stopped server, and
  failing at once names the setting to check instead of retrying into the same wall);
- a connection lost or timed out after that first contact -> :class:`~ferry.errors.RetriableError`
  (the engine's retry ladder backs off and tries again, as for a dropped store connection).

Messages name the URL with its password masked. ``redis`` is imported only here, and only
when a backend is built.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ferry.connectors.specs import mask_url
from ferry.errors import ConfigError, RetriableError

if TYPE_CHECKING:
    import redis

__all__ = ["DEFAULT_PREFIX", "RedisRateBackend", "mask_url", "redis_backend"]

DEFAULT_PREFIX = "ferry:rate:"
_SLACK_MS = 60_000
"""Keys outlive what they must remember by a minute, so a slow caller never finds them gone."""
_TIMEOUT = 5.0
"""Seconds to connect or to wait for an answer before the call counts as failed."""

# KEYS: calls, not_before. ARGV: now, member, slack_ms, then (limit, seconds) pairs.
# Returns the seconds to wait as a string (Lua numbers would be truncated to integers);
# "0" means the call was recorded.
_RESERVE = """
local now = tonumber(ARGV[1])
local delay = 0
local held = redis.call('GET', KEYS[2])
if held then delay = tonumber(held) - now end
local longest = 0
for i = 4, #ARGV, 2 do
  local seconds = tonumber(ARGV[i + 1])
  if seconds > longest then longest = seconds end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.17g', now - longest))
for i = 4, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local seconds = tonumber(ARGV[i + 1])
  local since = string.format('(%.17g', now - seconds)
  local hit = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', since, 'WITHSCORES', 'LIMIT', limit - 1, 1)
  if #hit > 0 then
    local wait = tonumber(hit[2]) + seconds - now
    if wait > delay then delay = wait end
  end
end
if delay > 0 then return string.format('%.17g', delay) end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = math.ceil(longest * 1000) + tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return '0'
"""

# KEYS: calls. ARGV: started, ended, member, ttl_ms. Moves one call recorded at `started` to
# `ended` (the pacer counts a call from its end); records it anew if it expired meanwhile.
_FINISH = """
local hit = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
local member = ARGV[3]
if #hit > 0 then member = hit[1] end
redis.call('ZADD', KEYS[1], ARGV[2], member)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
"""

# KEYS: not_before. ARGV: until, now, slack_ms. Only ever moves not_before forward.
_PENALIZE = """
local untl = tonumber(ARGV[1])
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) >= untl then return 0 end
local ttl = math.max(0, math.ceil((untl - tonumber(ARGV[2])) * 1000)) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
"""


class RedisRateBackend:
    """A :class:`~ferry.engine.pacing.RateBackend` kept in Redis; see the module docstring."""

    def __init__(self, client: redis.Redis, *, url: str = "", prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.url = mask_url(url) if url else "redis"
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._penalize = client.register_script(_PENALIZE)
        self._finish = client.register_script(_FINISH)
        self._longest: dict[str, float] = {}
        """The longest window each key was reserved with (how long a finished call matters)."""

    def keys(self, key: str) -> tuple[str, str]:
        """The Redis keys of budget ``key``: ``(calls, not_before)``."""
        base = f"{self.prefix}{{{key}}}"
        return f"{base}:calls", f"{base}:not_before"

    def reserve(self, key: str, rules: Sequence[tuple[int, float]], now: float) -> float:
        """Record one call for ``key`` if it fits every ``(limit, seconds)`` rule and no penalty
        holds the key; else record nothing and return the seconds to wait.

        Raises:
            RetriableError: Redis did not answer; back off and retry.
        """
        args: list[Any] = [repr(float(now)), uuid.uuid4().hex, _SLACK_MS]
        for limit, seconds in rules:
            args += [int(limit), repr(float(seconds))]
        self._longest[key] = max((seconds for _, seconds in rules), default=0.0)
        answer = self._run(self._reserve, list(self.keys(key)), args, "reserving an API call")
        return max(0.0, float(answer))

    def finish(self, key: str, started: float, ended: float) -> None:
        """Count the call of ``key`` recorded at ``started`` from ``ended`` on.

        Raises:
            RetriableError: Redis did not answer.
        """
        ttl = math.ceil(self._longest.get(key, 60.0) * 1000) + _SLACK_MS
        args = [repr(float(started)), repr(float(ended)), uuid.uuid4().hex, ttl]
        self._run(self._finish, [self.keys(key)[0]], args, "counting an API call from its end")

    def penalize(self, key: str, until: float, now: float) -> None:
        """Hold every call on ``key`` until ``until`` (epoch seconds); never shortens a hold.

        Raises:
            RetriableError: Redis did not answer; back off and retry.
        """
        args = [repr(float(until)), repr(float(now)), _SLACK_MS]
        self._run(self._penalize, [self.keys(key)[1]], args, "recording a throttling answer")

    def _run(self, script: Any, keys: list[str], args: list[Any], action: str) -> Any:
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.RedisError as exc:  # connection lost, timeout, a failover in progress
            raise RetriableError(f"rate budget in Redis ({self.url}): {action} failed: {exc}") from exc


def _connect(url: str, prefix: str) -> RedisRateBackend:
    import redis

    shown = mask_url(url)
    hint = "check FERRY_RATE_REDIS_URL (e.g. redis://127.0.0.1:6379/0) and that Redis is running"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=_TIMEOUT, socket_timeout=_TIMEOUT)
    except ValueError as exc:
        raise ConfigError(f"FERRY_RATE_REDIS_URL {shown} is not a Redis URL: {exc}\n  hint: {hint}") from None
    try:
        client.ping()
    except redis.AuthenticationError:
        client.close()
        raise ConfigError(
            f"Redis at {shown} rejected the credentials of FERRY_RATE_REDIS_URL\n"
            "  hint: check the user and password in the URL"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        client.close()
        raise ConfigError(
            f"cannot reach Redis at {shown} for the rate budget: {exc}\n  hint: {hint}"
        ) from None
    except redis.ResponseError as exc:  # NOAUTH, a database index out of range ...
        client.close()
        raise ConfigError(f"Redis at {shown} refused the rate budget: {exc}\n  hint: {hint}") from None
    return RedisRateBackend(client, url=url, prefix=prefix)


_BACKENDS: dict[tuple[str, str], RedisRateBackend] = {}
_LOCK = threading.Lock()


def redis_backend(url: str, prefix: str = DEFAULT_PREFIX) -> RedisRateBackend:
    """The process's backend for ``url`` (one connection pool per URL and prefix), connected
    and pinged on first use.

    Raises:
        ConfigError: The URL is invalid, Redis rejects it or does not answer the first ping.
    """
    with _LOCK:
        backend = _BACKENDS.get((url, prefix))
        if backend is None:
            backend = _BACKENDS[(url, prefix)] = _connect(url, prefix)
        return backend
