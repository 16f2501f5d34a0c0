"""Concurrency strategies: small classes behind one interface (``Strategy``), each taking the same
policies: a retry policy, a rate limit on attempt starts, and (batch, window and adaptive)
heartbeats."""

from __future__ import annotations

from harness.modes import STRATEGY_KINDS
from harness.strategies.adaptive import Adaptive, limit_trace
from harness.strategies.base import RunContext, Strategy, start_limiter
from harness.strategies.batch import Batch
from harness.strategies.retry import RetryPolicy
from harness.strategies.sequential import Sequential
from harness.strategies.window import Window
from mock_onyx import ConfigError
from scenarios.policies import DEFAULT_SIZE, default_retry

HEARTBEAT_KINDS = ("batch", "window", "adaptive")


def make_strategy(kind: str, size: int | None = None, heartbeat_s: float = 0.0, retry: str | None = None,
                  rate_limit: float = 0.0) -> Strategy:
    """Build a strategy by name; ``size`` is the batch or window size (default 8) or adaptive's
    largest limit (default 16); ``retry`` a spec (``scenarios.policies``; None: the strategy's
    own, ``default_retry``); ``heartbeat_s`` (all but sequential) and ``rate_limit`` (attempt
    starts per simulated second) 0 for none."""
    if kind not in STRATEGY_KINDS:
        raise ConfigError("strategy", f"unknown strategy {kind!r}", f"use one of {', '.join(STRATEGY_KINDS)}")
    if size is not None and size < 1:
        raise ConfigError("size", f"{size} is not a size", "give a whole number >= 1")
    if heartbeat_s and kind not in HEARTBEAT_KINDS:
        raise ConfigError("heartbeat", f"{kind} sends no heartbeats", "drop it, or use batch, window or adaptive")
    for key, value in (("heartbeat", heartbeat_s), ("rate_limit", rate_limit)):
        if not 0 <= value < float("inf"):
            raise ConfigError(key, f"{value} is not a number >= 0", "give a finite number >= 0 (0: none)")
    policy = RetryPolicy.parse(retry if retry is not None else default_retry(kind))
    if kind == "sequential":
        return Sequential(retry=policy, rate_limit=float(rate_limit))
    sized = {"batch": Batch, "window": Window, "adaptive": Adaptive}[kind]
    return sized(size=size or DEFAULT_SIZE[kind], retry=policy, heartbeat_s=float(heartbeat_s),
                 rate_limit=float(rate_limit))


__all__ = ["HEARTBEAT_KINDS", "STRATEGY_KINDS", "Adaptive", "Batch", "RetryPolicy", "RunContext", "Sequential", "Strategy",
           "Window", "limit_trace", "make_strategy", "start_limiter"]
