"""How fast a send may go: the provider's rate limits, the warm-up schedule, the send's
window, and one shared budget in Redis that every worker on every machine draws from.

**Limits in force** (:func:`limits_in_force`): the settings ``SEND_RATE_PER_SECOND`` /
``_MINUTE`` / ``_HOUR`` / ``_DAY``, ``SEND_MAX_BATCH`` and ``SEND_WARMUP_*`` for the
configured provider, or, when an operator saved one, the provider's
:class:`~delivery.models.SendingLimit` row in the admin.

**The budget** (:func:`budget_take`) is a token bucket per window (second, minute,
hour) plus a counter for the calendar day (publication's zone), all in one Lua
script so that the check and the take are one atomic step in Redis, for all
workers together. Each bucket holds at most one batch, so over any window the
provider gets at most its cap plus one batch. A batch whose turn comes within
RESERVE_SECONDS reserves it: its tokens are taken now (the buckets go below zero,
so the next taker queues behind it) and it is posted at its turn. The day's counter carries the
warm-up: a batch larger than what is left today is granted in part, and the rest
waits for tomorrow. A provider's 429 with Retry-After stops the budget for that
long and halves the rates for ten minutes (:func:`budget_penalize`).

We evaluated the ``limits`` library (Redis storage, moving and sliding windows):
it checks one limit at a time and takes a cost all or nothing, so several windows
at once, a partial grant against the day's cap and a 429 penalty would still need
a script of our own; one small script does all three atomically.

Without Redis (the laptop default) the same algorithm runs in the worker process
(one machine, one worker: still one budget)."""

from __future__ import annotations

import datetime
import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from delivery.forms import local_datetime, publication_tz

WINDOWS = (("second", 1), ("minute", 60), ("hour", 3600))
PENALTY_FACTOR = 0.5
PENALTY_SECONDS = 600
DAY_KEY_SECONDS = 3 * 86400
# A wait longer than this is not a task countdown (the broker would hold it): the batch is
# left due at that time in the database, and recovery enqueues it then.
TASK_WAIT_MAX_SECONDS = 30.0
# A batch whose turn in the budget comes within this many seconds takes it now and its worker
# waits for it (budget_take's ``reserve``). Without it, each batch came back when the bucket
# would have refilled, and every wake-up's lateness (the task's timer, its queries) added up
# from batch to batch: the whole send took 10-36% longer than the cap allows (bench/ratelimit.py).
RESERVE_SECONDS = 2.0


# --- what is in force ---------------------------------------------------------------


@dataclass(frozen=True)
class Warmup:
    """A daily cap that grows: the listed caps day by day from ``start`` (then no cap), or
    ``first_day`` growing by ``growth_percent`` each day."""

    start: datetime.date
    caps: tuple[int, ...] = ()
    first_day: int | None = None
    growth_percent: int | None = None

    def cap_on(self, day: datetime.date) -> int | None:
        n = max(0, (day - self.start).days)
        if self.caps:
            return self.caps[n] if n < len(self.caps) else None
        if self.first_day and self.growth_percent:
            return int(self.first_day * (1 + self.growth_percent / 100) ** min(n, 400))
        return None


def warmup_check(*, caps: list[int], first_day: int | None, growth_percent: int | None) -> None:
    """Refuse a warm-up that shrinks or says nothing: raises ValidationError with what to fix."""
    if caps and (first_day or growth_percent):
        raise ValidationError("Give either a list of daily caps or a first day's cap with a growth, not both.")
    if any(cap <= 0 for cap in caps):
        raise ValidationError("Every daily cap of the warm-up must be at least 1.")
    for day, (before, after) in enumerate(itertools.pairwise(caps), start=2):
        if after < before:
            raise ValidationError(
                f"The warm-up shrinks on day {day} ({before} then {after}); each day's cap must grow."
            )
    if (first_day is None) != (growth_percent is None):
        raise ValidationError("A growing warm-up needs both the first day's cap and the daily growth in percent.")
    if first_day is not None and first_day <= 0:
        raise ValidationError("The first day's cap must be at least 1.")
    if growth_percent is not None and growth_percent <= 0:
        raise ValidationError("The daily growth must be at least 1 percent (a warm-up that does not grow is a cap).")


def parse_caps(text: str) -> list[int]:
    """'500, 1000, 2000' -> [500, 1000, 2000]; a ValidationError names a bad entry."""
    caps = []
    for part in (p.strip().replace("_", "") for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        try:
            caps.append(int(part))
        except ValueError:
            raise ValidationError(f"{part!r} is not a whole number of messages.") from None
    return caps


@dataclass(frozen=True)
class Limits:
    provider: str
    per_second: int | None = None
    per_minute: int | None = None
    per_hour: int | None = None
    per_day: int | None = None
    max_batch: int | None = None
    warmup: Warmup | None = None
    source: str = "settings"

    def caps(self) -> list[tuple[str, int, int]]:
        """(window name, seconds, cap) for each window with a cap."""
        values = {"second": self.per_second, "minute": self.per_minute, "hour": self.per_hour}
        return [(name, seconds, values[name]) for name, seconds in WINDOWS if values[name]]  # type: ignore[misc]

    def day_cap(self, day: datetime.date) -> int | None:
        found = [c for c in (self.per_day, self.warmup.cap_on(day) if self.warmup else None) if c]
        return min(found) if found else None

    def rate(self) -> float | None:
        """The steadiest rate the windows allow, in messages per second (None: no limit)."""
        rates = [cap / seconds for _, seconds, cap in self.caps()]
        return min(rates) if rates else None

    def describe(self, day: datetime.date | None = None) -> str:
        day = day or timezone.localdate()
        parts = [f"{cap:,}/{name}" for name, _, cap in self.caps()]
        if self.per_day:
            parts.append(f"{self.per_day:,}/day")
        if self.warmup:
            cap = self.warmup.cap_on(day)
            n = (day - self.warmup.start).days + 1
            parts.append(f"warm-up day {max(n, 1)}: {cap:,} today" if cap else "warm-up finished")
        text = ", ".join(parts) or "no limit"
        return f"{text} ({'admin' if self.source == 'admin' else 'settings'}, {self.provider})"


def _settings_limits(provider: str) -> Limits:
    warmup = None
    if settings.SEND_WARMUP_START:
        warmup = Warmup(
            start=settings.SEND_WARMUP_START,
            caps=tuple(settings.SEND_WARMUP_DAILY_CAPS),
            first_day=settings.SEND_WARMUP_FIRST_DAY,
            growth_percent=settings.SEND_WARMUP_GROWTH_PERCENT,
        )
    return Limits(
        provider=provider,
        per_second=settings.SEND_RATE_PER_SECOND,
        per_minute=settings.SEND_RATE_PER_MINUTE,
        per_hour=settings.SEND_RATE_PER_HOUR,
        per_day=settings.SEND_RATE_PER_DAY,
        max_batch=settings.SEND_MAX_BATCH,
        warmup=warmup,
    )


# Each batch asks for the limits two or three times: the admin's row is read once per
# LIMITS_CACHE_SECONDS per cache (Redis in production: every worker), and forgotten when it is
# saved or deleted (delivery.apps connects limits_forget), so an operator's change holds at once.
LIMITS_CACHE_SECONDS = 5
_NO_ROW = "settings"


def _limits_key(provider: str) -> str:
    return f"delivery:sending-limit:v1:{provider}"


def limits_in_force(provider: str | None = None) -> Limits:
    """The configured provider's limits: its admin row if an operator saved one, else the settings."""
    from delivery.models import SendingLimit

    name = provider or settings.EMAIL_PROVIDER
    stored = cache.get(_limits_key(name))
    if stored is None:
        row = SendingLimit.objects.filter(provider=name).first()
        stored = row.limits() if row is not None else _NO_ROW
        cache.set(_limits_key(name), stored, LIMITS_CACHE_SECONDS)
    if stored == _NO_ROW:
        return _settings_limits(name)
    return stored  # type: ignore[no-any-return]


def limits_forget(provider: str) -> None:
    """The admin row of ``provider`` changed: the next batch reads it again."""
    cache.delete(_limits_key(provider))


def batch_size(limits: Limits | None = None) -> int:
    """Readers per batch: NEWSROOM_BATCH_SIZE, no more than the maximum batch or any window's cap
    (a batch must fit in one bucket)."""
    limits = limits or limits_in_force()
    sizes = [settings.NEWSROOM_BATCH_SIZE, limits.max_batch or settings.NEWSROOM_BATCH_SIZE]
    sizes += [cap for _, _, cap in limits.caps()]
    return max(1, min(sizes))


# --- the send's window -------------------------------------------------------------


def window_wait(send: Any, now: datetime.datetime | None = None) -> float:
    """Seconds until the send's window opens (0 inside it, or with no window)."""
    if send.window_start is None or send.window_end is None:
        return 0.0
    now = now or timezone.now()
    local = now.astimezone(publication_tz())
    if send.window_start <= local.time() < send.window_end:
        return 0.0
    day = local.date() if local.time() < send.window_start else local.date() + datetime.timedelta(days=1)
    try:
        opens = local_datetime(day, send.window_start)
    except ValidationError:  # the opening time is skipped by the clocks that day: open an hour later
        opens = local_datetime(day, (datetime.datetime.combine(day, send.window_start) + _HOUR).time())
    return max(0.0, (opens - now).total_seconds())


_HOUR = datetime.timedelta(hours=1)


def seconds_to_tomorrow(now: datetime.datetime | None = None) -> float:
    """Seconds until the next midnight on the publication's clock."""
    now = now or timezone.now()
    tomorrow = now.astimezone(publication_tz()).date() + datetime.timedelta(days=1)
    return max(1.0, (local_datetime(tomorrow, datetime.time(0, 0)) - now).total_seconds())


# --- the shared budget ---------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """``granted`` messages may go now; otherwise wait ``wait`` seconds (``tomorrow``: the day's cap is spent)."""

    granted: int
    wait: float = 0.0
    tomorrow: bool = False


# KEYS: the buckets (a hash), the day's counter, the penalty (a hash).
# ARGV: cost, the day's cap (-1: none), the counter's lifetime, the reservation horizon in
# seconds, then (name, rate per second, burst) per window.
# Returns {granted, wait}: granted 0 and wait "-1" when the day's cap is spent; granted 0 and a
# wait: come back then; granted and a wait (a reservation): the tokens are taken now for a
# send at now + wait, the buckets going below zero so the next taker queues behind it.
# Time is Redis's own clock, the same for every machine.
_TAKE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) + tonumber(now_t[2]) / 1000000
local want = tonumber(ARGV[1])
local day_cap = tonumber(ARGV[2])
local reserve = tonumber(ARGV[4])
local until_ts = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
if until_ts > now then return {0, tostring(until_ts - now)} end
local factor = tonumber(redis.call('HGET', KEYS[3], 'factor') or '1')
if day_cap >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= day_cap then return {0, '-1'} end
  want = math.min(want, day_cap - used)
end
local n = (#ARGV - 4) / 3
for i = 0, n - 1 do want = math.min(want, tonumber(ARGV[7 + 3 * i])) end
local wait = 0
local tokens = {}
for i = 0, n - 1 do
  local name = ARGV[5 + 3 * i]
  local rate = tonumber(ARGV[6 + 3 * i]) * factor
  local burst = tonumber(ARGV[7 + 3 * i])
  local stored = redis.call('HMGET', KEYS[1], name, name .. ':ts')
  local t = burst
  if stored[1] then
    t = math.min(burst, tonumber(stored[1]) + math.max(0, now - tonumber(stored[2])) * rate)
  end
  tokens[i] = t
  if t < want then wait = math.max(wait, (want - t) / rate) end
end
if wait > reserve then return {0, tostring(wait - reserve)} end
for i = 0, n - 1 do
  local name = ARGV[5 + 3 * i]
  redis.call('HSET', KEYS[1], name, tostring(tokens[i] - want), name .. ':ts', tostring(now))
end
redis.call('EXPIRE', KEYS[1], 90000)
if day_cap >= 0 then
  redis.call('INCRBY', KEYS[2], want)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return {want, tostring(wait)}
"""

# KEYS: the penalty hash. ARGV: seconds to stop, factor, seconds the factor lasts.
_PENALIZE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) + tonumber(now_t[2]) / 1000000
redis.call('HSET', KEYS[1], 'until', tostring(now + tonumber(ARGV[1])), 'factor', ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) + tonumber(ARGV[3])))
return 1
"""


def _keys(provider: str, day: datetime.date) -> list[str]:
    base = f"newsroom:budget:{provider}"
    return [f"{base}:buckets", f"{base}:day:{day.isoformat()}", f"{base}:penalty"]


_clients: dict[str, Any] = {}


def _redis() -> Any:
    import redis

    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


def unlimited(limits: Limits) -> bool:
    """No cap, no warm-up cap today and no 429 being waited out: nothing for a batch to take."""
    return not limits.caps() and limits.day_cap(timezone.localdate()) is None and not _penalized(limits)


def budget_take(cost: int, *, limits: Limits | None = None, reserve: float = 0.0) -> Grant:
    """Take up to ``cost`` messages from the shared budget now, or learn how long to wait.

    ``reserve``: when the budget has them within that many seconds, they are taken now and
    the grant says when they may go (``wait``): the batch holds its turn instead of coming
    back to ask, so the batches go at the budget's own pace, however late each worker wakes."""
    limits = limits or limits_in_force()
    today = timezone.localdate()
    day_cap = limits.day_cap(today)
    if cost <= 0 or (not limits.caps() and day_cap is None and not _penalized(limits)):
        return Grant(granted=max(cost, 0))
    burst = batch_size(limits)
    argv: list[Any] = [cost, -1 if day_cap is None else day_cap, DAY_KEY_SECONDS, max(0.0, reserve)]
    for name, seconds, cap in limits.caps():
        argv += [name, cap / seconds, min(burst, cap)]
    if settings.REDIS_URL:
        granted, wait = _redis().eval(_TAKE, 3, *_keys(limits.provider, today), *argv)
        granted, wait = int(granted), float(wait)
    else:
        granted, wait = _LOCAL.take(_keys(limits.provider, today), argv)
    if wait < 0:
        return Grant(granted=0, wait=seconds_to_tomorrow(), tomorrow=True)
    return Grant(granted=granted, wait=wait)


# KEYS: the provider's next posting time. ARGV: the seconds this batch's share of the rate takes.
# Returns the seconds this batch waits before posting. Redis's clock, as in _TAKE.
_SPACE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) + tonumber(now_t[2]) / 1000000
local at = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], tostring(at + tonumber(ARGV[1])), 'EX', 3600)
return tostring(at - now)
"""


def post_wait(count: int, *, limits: Limits | None = None) -> float:
    """Seconds to wait before posting ``count`` messages, so that posts of all workers are at
    least their share of the per-second cap apart (``count`` / the cap).

    The budget spaces the turns; this spaces the posts themselves. A batch that took longer
    to build than its turn allowed (the first batches of a send, each worker building at
    once on a busy machine) would otherwise reach the provider right behind the one before
    it, and a second could get more than its cap plus one batch."""
    limits = limits or limits_in_force()
    if not limits.per_second or count <= 0:
        return 0.0  # the per-second cap is the one a burst of posts can break; longer windows are the budget's
    gap = count / limits.per_second
    if settings.REDIS_URL:
        key = f"newsroom:budget:{limits.provider}:next_post"
        wait = float(_redis().eval(_SPACE, 1, key, gap))
    else:
        wait = _LOCAL.space(gap)
    return min(max(0.0, wait), RESERVE_SECONDS)  # never holds a claimed batch longer than a reservation


def _penalized(limits: Limits) -> bool:
    if settings.REDIS_URL:
        return bool(_redis().exists(_keys(limits.provider, timezone.localdate())[2]))
    return _LOCAL.penalty_active()


def budget_penalize(retry_after: float, *, limits: Limits | None = None) -> None:
    """The provider answered 429: nothing goes for ``retry_after`` seconds, then half the rate for a while."""
    limits = limits or limits_in_force()
    seconds = max(1.0, min(retry_after, float(settings.SEND_RETRY_BACKOFF_MAX_SECONDS)))
    if settings.REDIS_URL:
        key = _keys(limits.provider, timezone.localdate())[2]
        _redis().eval(_PENALIZE, 1, key, seconds, PENALTY_FACTOR, PENALTY_SECONDS)
    else:
        _LOCAL.penalize(seconds)


def budget_used_today(limits: Limits | None = None) -> int:
    limits = limits or limits_in_force()
    key = _keys(limits.provider, timezone.localdate())[1]
    if settings.REDIS_URL:
        return int(_redis().get(key) or 0)
    return int(_LOCAL.counters.get(key, 0))


@dataclass
class _LocalBudget:
    """The Lua script's algorithm in this process, for a deployment without Redis."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    until: float = 0.0
    factor_until: float = 0.0

    next_post: float = 0.0

    def space(self, gap: float) -> float:
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_post)
            self.next_post = at + gap
            return at - now

    def penalty_active(self) -> bool:
        return time.monotonic() < self.factor_until

    def penalize(self, seconds: float) -> None:
        with self.lock:
            now = time.monotonic()
            self.until, self.factor_until = now + seconds, now + seconds + PENALTY_SECONDS

    def take(self, keys: list[str], argv: list[Any]) -> tuple[int, float]:
        with self.lock:
            now = time.monotonic()
            if self.until > now:
                return 0, self.until - now
            factor = PENALTY_FACTOR if now < self.factor_until else 1.0
            want, day_cap, reserve = int(argv[0]), int(argv[1]), float(argv[3])
            if day_cap >= 0:
                used = self.counters.get(keys[1], 0)
                if used >= day_cap:
                    return 0, -1.0
                want = min(want, day_cap - used)
            windows = [argv[i : i + 3] for i in range(4, len(argv), 3)]
            want = min([want, *(int(burst) for _, _, burst in windows)])
            tokens, wait = {}, 0.0
            for name, rate, burst in windows:
                stored, at = self.buckets.get(name, (float(burst), now))
                tokens[name] = min(float(burst), stored + (now - at) * rate * factor)
                if tokens[name] < want:
                    wait = max(wait, (want - tokens[name]) / (rate * factor))
            if wait > reserve:
                return 0, wait - reserve
            for name, left in tokens.items():
                self.buckets[name] = (left - want, now)
            if day_cap >= 0:
                self.counters[keys[1]] = self.counters.get(keys[1], 0) + want
            return want, wait


_LOCAL = _LocalBudget()


# --- the send page --------------------------------------------------------------------


def time_left(*, remaining: int, achieved: float, limits: Limits, now: datetime.datetime | None = None) -> int | None:
    """Seconds until the last of ``remaining`` readers goes, with the caps: at the achieved rate
    (or the cap's, before any is measured), and whole days of warm-up or daily cap to come.
    None when nothing says how fast it goes."""
    if remaining <= 0:
        return 0
    now = now or timezone.now()
    rates = [r for r in (achieved, limits.rate()) if r]
    rate = min(rates) if rates else None
    today = now.astimezone(publication_tz()).date()
    cap = limits.day_cap(today)
    left_today = None if cap is None else max(0, cap - budget_used_today(limits))
    if left_today is None or remaining <= left_today:
        return None if rate is None else math.ceil(remaining / rate)
    # Today's share goes first; the rest waits for midnight and the days after it.
    seconds, remaining, day = seconds_to_tomorrow(now), remaining - left_today, today
    for _ in range(366):
        day += datetime.timedelta(days=1)
        cap = limits.day_cap(day)
        if cap is None or remaining <= cap:
            return math.ceil(seconds + (remaining / rate if rate else 0))
        seconds, remaining = seconds + 86400, remaining - cap
    return None
