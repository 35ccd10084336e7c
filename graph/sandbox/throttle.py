"""Throttling and fault injection for the sandbox.

Throttling is Exchange Online's, per app and mailbox: a sliding window of
requests (10,000 per 10 minutes) and a number of requests in flight (4); both
answer 429 with a (fractional) ``Retry-After``. Faults are injected on request,
either from a deterministic queue (tests) or at random rates (benchmarks).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Limits:
    """Throttling limits; defaults are Microsoft's documented Outlook limits."""

    requests_per_window: int = 10_000
    window_seconds: float = 600.0
    concurrency: int = 4
    concurrency_retry_after: float = 0.5
    rules_quota_bytes: int = 64 * 1024  # Exchange: 64 KB default (32-256 KB configurable)
    folder_name_max: int = 255
    token_lifetime_seconds: float = 3600.0


@dataclass
class Faults:
    """What to break: a queue of next faults and/or random rates, plus latency."""

    latency: float = 0.0  # seconds of service time per executed request
    rate_429: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    retry_after: float = 1.0  # Retry-After sent with injected 429/503
    queue: deque[str] = field(default_factory=deque)  # "429" "503" "504" "drop" "drop-after"
    match: str = ""  # only requests whose path contains this (empty: all)
    fail_5xx_until: float = 0.0  # time.monotonic() until which every request gets 503
    seed: int | None = None
    gateway_timeouts: int = 0  # 504s injected so far (every other one carries Retry-After)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, data: dict[str, Any]) -> None:
        """Apply settings from the admin endpoint or CLI (camelCase or snake_case keys)."""
        aliases = {
            "rate429": "rate_429",
            "rate503": "rate_503",
            "rateDrop": "rate_drop",
            "retryAfter": "retry_after",
            "fail5xxSeconds": "fail_5xx_seconds",
        }
        for key, value in data.items():
            name = aliases.get(key, key)
            if name == "queue":
                self.queue = deque(str(v) for v in value)
            elif name == "fail_5xx_seconds":
                self.fail_5xx_until = time.monotonic() + float(value)
            elif name == "seed":
                self._rng.seed(value)
            elif name in {"latency", "rate_429", "rate_503", "rate_drop", "retry_after"}:
                setattr(self, name, float(value))
            elif name == "match":
                self.match = str(value)

    def pick(self, path: str) -> str | None:
        """The fault to inject into this request, if any."""
        if self.match and self.match not in path:
            return None
        if time.monotonic() < self.fail_5xx_until:
            return "503"
        if self.queue:
            return self.queue.popleft()
        roll = self._rng.random()
        if roll < self.rate_429:
            return "429"
        if roll < self.rate_429 + self.rate_503:
            return "503"
        if roll < self.rate_429 + self.rate_503 + self.rate_drop:
            return "drop"
        return None

    def describe(self) -> dict[str, Any]:
        """Current settings as JSON."""
        return {
            "latency": self.latency,
            "rate429": self.rate_429,
            "rate503": self.rate_503,
            "rateDrop": self.rate_drop,
            "retryAfter": self.retry_after,
            "queue": list(self.queue),
            "match": self.match,
            "fail5xxRemaining": max(0.0, self.fail_5xx_until - time.monotonic()),
        }


class Throttle:
    """Per (app, mailbox) sliding window and concurrency."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._window: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._inflight: dict[tuple[str, str], int] = defaultdict(int)
        self.peak: dict[tuple[str, str], int] = defaultdict(int)  # most seen at once, 429s included
        self.executed: dict[tuple[str, str], int] = defaultdict(int)
        self.throttled: dict[tuple[str, str], int] = defaultdict(int)

    def acquire(self, key: tuple[str, str]) -> float | None:
        """Take a slot: None if allowed, else the Retry-After in seconds."""
        now = time.monotonic()
        self.peak[key] = max(self.peak[key], self._inflight[key] + 1)
        if self._inflight[key] >= self.limits.concurrency:
            self.throttled[key] += 1
            return self.limits.concurrency_retry_after
        window = self._window[key]
        while window and window[0] <= now - self.limits.window_seconds:
            window.popleft()
        if len(window) >= self.limits.requests_per_window:
            self.throttled[key] += 1
            return round(max(0.01, window[0] + self.limits.window_seconds - now), 3)
        window.append(now)
        self._inflight[key] += 1
        self.executed[key] += 1
        return None

    def release(self, key: tuple[str, str]) -> None:
        """Give the slot back."""
        self._inflight[key] -= 1

    def stats(self) -> list[dict[str, Any]]:
        """Per app and mailbox: peak concurrency, executed and throttled counts."""
        return [
            {
                "app": app,
                "mailbox": mailbox,
                "peakConcurrent": self.peak[(app, mailbox)],
                "executed": self.executed[(app, mailbox)],
                "throttled": self.throttled[(app, mailbox)],
            }
            for app, mailbox in sorted(self.peak)
        ]
