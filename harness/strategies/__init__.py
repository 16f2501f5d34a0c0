"""Concurrency strategies: small classes behind one interface (``Strategy``)."""

from __future__ import annotations

from harness.strategies.base import RetryPolicy, RunContext, Strategy
from harness.strategies.batch import Batch
from harness.strategies.sequential import Sequential
from harness.strategies.window import Window
from harness.modes import STRATEGY_KINDS
from mock_onyx import ConfigError


def make_strategy(kind: str, size: int | None = None) -> Strategy:
    """Build a strategy by name; ``size`` is the batch or window size (default 8)."""
    if kind not in STRATEGY_KINDS:
        raise ConfigError("strategy", f"unknown strategy {kind!r}", f"use one of {', '.join(STRATEGY_KINDS)}")
    if size is not None and size < 1:
        raise ConfigError("size", f"{size} is not a size", "give a whole number >= 1")
    if kind == "sequential":
        return Sequential()
    if kind == "batch":
        return Batch(size=size or 8)
    return Window(size=size or 8)


__all__ = ["STRATEGY_KINDS", "Batch", "RetryPolicy", "RunContext", "Sequential", "Strategy", "Window",
           "make_strategy"]
