"""Limits on guessing: how often one account, one client address or one target may try.

Counting is done by the maintained ``limits`` library (moving windows), in Redis when
``IDP_REDIS_URL`` is set (every worker counts together) and in memory otherwise (one
process). Each rule is a ``limits`` string such as ``10/15 minutes``, from settings.

Keys never hold a personal value in the clear: an identifier (CCCD, email, phone) and
a client address are digested before they reach the counter's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from idp.hashing import digest


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead, and for how long it is refused otherwise."""

    allowed: bool
    retry_after: int = 0


class Limiter:
    """Named limits over one storage shared by every worker of the deployment."""

    def __init__(
        self, redis_url: str = "", prefix: str = "idp:", rules: dict[str, str] | None = None
    ):
        self.storage: Storage
        if redis_url:
            self.storage = RedisStorage(redis_url, key_prefix=prefix + "limits")
        else:
            self.storage = MemoryStorage()
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.rules: dict[str, RateLimitItem] = {
            name: parse(rule) for name, rule in (rules or {}).items()
        }

    def _item(self, rule: str) -> RateLimitItem:
        return self.rules[rule]

    @staticmethod
    def _ids(rule: str, keys: tuple[str, ...]) -> tuple[str, ...]:
        return (rule, *(digest(k) for k in keys))

    def hit(self, rule: str, *keys: str) -> Verdict:
        """Count one attempt under ``rule`` for ``keys``; return whether it is within the limit."""
        item = self._item(rule)
        if self.strategy.hit(item, *self._ids(rule, keys)):
            return Verdict(True)
        return Verdict(False, self.retry_after(rule, *keys))

    def test(self, rule: str, *keys: str) -> Verdict:
        """Return whether one more attempt would be within the limit, without counting it."""
        item = self._item(rule)
        if self.strategy.test(item, *self._ids(rule, keys)):
            return Verdict(True)
        return Verdict(False, self.retry_after(rule, *keys))

    def remaining(self, rule: str, *keys: str) -> int:
        """Return how many attempts are left in the current window."""
        stats = self.strategy.get_window_stats(self._item(rule), *self._ids(rule, keys))
        return int(stats.remaining)

    def retry_after(self, rule: str, *keys: str) -> int:
        """Return the seconds until one more attempt is allowed (at least 1)."""
        import time

        stats = self.strategy.get_window_stats(self._item(rule), *self._ids(rule, keys))
        return max(1, int(stats.reset_time - time.time()) + 1)

    def clear(self, rule: str, *keys: str) -> None:
        """Forget the attempts counted under ``rule`` for ``keys`` (after a success)."""
        self.strategy.clear(self._item(rule), *self._ids(rule, keys))
