"""The harness: the extractor, the strategies, and the runner that measures them against the mock."""

from harness.extractor import OnyxExtractor, Timeouts
from harness.outcomes import ErrorKind, ItemKind, ItemOutcome, Status, WorkItem
from harness.results import RunResult, RunSummary
from harness.runner import Mode, RunConfig, run_blocking, run_once
from harness.strategies import Batch, RetryPolicy, Sequential, Strategy, Window, make_strategy
from harness.transports import Credentials, TransportKind

__all__ = [
    "Batch",
    "Credentials",
    "ErrorKind",
    "ItemKind",
    "ItemOutcome",
    "Mode",
    "OnyxExtractor",
    "RetryPolicy",
    "RunConfig",
    "RunResult",
    "RunSummary",
    "Sequential",
    "Status",
    "Strategy",
    "Timeouts",
    "TransportKind",
    "Window",
    "WorkItem",
    "make_strategy",
    "run_blocking",
    "run_once",
]
