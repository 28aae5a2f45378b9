"""Per-client-IP token bucket (production: tower_governor on /verify and /settle)."""

from __future__ import annotations

import math
import threading
import time


class TokenBucketLimiter:
    """``per_second`` tokens refill continuously up to ``burst``; one per request.

    ``per_second <= 0`` disables limiting. Memory is bounded: once more than
    ``max_clients`` IPs are tracked, buckets that have refilled completely
    (idle clients) are dropped.
    """

    def __init__(self, per_second: float, burst: int, max_clients: int = 50_000):
        self.per_second = float(per_second)
        self.burst = max(1, int(burst))
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # ip -> (tokens, updated)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def acquire(self, key: str, now: float | None = None) -> tuple[bool, int, float]:
        """Take one token. Returns (allowed, remaining, retry_after_seconds)."""
        if not self.enabled:
            return True, self.burst, 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, updated = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - updated) * self.per_second)
            if tokens >= 1.0:
                tokens -= 1.0
                self._buckets[key] = (tokens, now)
                allowed, retry = True, 0.0
            else:
                self._buckets[key] = (tokens, now)
                allowed, retry = False, (1.0 - tokens) / self.per_second
            if len(self._buckets) > self.max_clients:
                self._prune(now)
            return allowed, int(math.floor(tokens)), retry

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.per_second
        stale = [k for k, (_, t) in self._buckets.items() if now - t >= full_after]
        for k in stale:
            del self._buckets[k]


def client_ip(headers, peer: str | None, trust_forwarded: bool) -> str:
    """Like tower_governor's SmartIpKeyExtractor: X-Forwarded-For, X-Real-IP, peer."""
    if trust_forwarded:
        xff = headers.get("x-forwarded-for")
        if xff:
            first = xff.split(",")[0].strip()
            if first:
                return first
        real = headers.get("x-real-ip")
        if real and real.strip():
            return real.strip()
    return peer or "unknown"
