"""The harness: the extractor, the strategies, and the runner that measures them against the mock.

The names below are imported on first use (PEP 562), so importing one submodule (``harness.cli``)
does not import the runner, httpx and aiohttp.
"""

from typing import TYPE_CHECKING

from mock_onyx.lazy import lazy_exports

if TYPE_CHECKING:
    from harness.extractor import OnyxExtractor, Timeouts
    from harness.outcomes import ErrorKind, ItemKind, ItemOutcome, Status, WorkItem
    from harness.results import RunResult, RunSummary
    from harness.runner import Mode, RunConfig, run_blocking, run_once
    from harness.strategies import Adaptive, Batch, RetryPolicy, Sequential, Strategy, Window, make_strategy
    from harness.transports import Credentials, TransportKind

__all__ = [
    "Adaptive",
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

_SUBMODULES = {
    "extractor": ("OnyxExtractor", "Timeouts"),
    "outcomes": ("ErrorKind", "ItemKind", "ItemOutcome", "Status", "WorkItem"),
    "results": ("RunResult", "RunSummary"),
    "runner": ("Mode", "RunConfig", "run_blocking", "run_once"),
    "strategies": ("Adaptive", "Batch", "RetryPolicy", "Sequential", "Strategy", "Window", "make_strategy"),
    "transports": ("Credentials", "TransportKind"),
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _SUBMODULES)
