"""A mock Onyx API server: the real routes and shapes, with configurable latency, faults and time scale.

The names below are imported on first use (PEP 562), so importing one submodule (``mock_onyx.errors``)
does not import the server, aiohttp and pydantic.
"""

from typing import TYPE_CHECKING

from mock_onyx.lazy import lazy_exports

if TYPE_CHECKING:
    from mock_onyx.behaviour import Behaviour, Draw
    from mock_onyx.clock import SimClock
    from mock_onyx.distributions import Distribution, parse_distribution
    from mock_onyx.endpoints import Endpoint, FaultKind
    from mock_onyx.errors import ConfigError, OnyxBenchError
    from mock_onyx.model import MockRequest, OnyxModel
    from mock_onyx.onyx_content import FOLDER_FILE_BASE
    from mock_onyx.profile import (
        Profile,
        flag_overrides,
        load_profile,
        profile_from_mapping,
    )
    from mock_onyx.server import RunningServer, running_server, serve_until_signalled

__all__ = [
    "FOLDER_FILE_BASE",
    "Behaviour",
    "ConfigError",
    "Distribution",
    "Draw",
    "Endpoint",
    "FaultKind",
    "MockRequest",
    "OnyxBenchError",
    "OnyxModel",
    "Profile",
    "RunningServer",
    "SimClock",
    "flag_overrides",
    "load_profile",
    "parse_distribution",
    "profile_from_mapping",
    "running_server",
    "serve_until_signalled",
]

_SUBMODULES = {
    "behaviour": ("Behaviour", "Draw"),
    "clock": ("SimClock",),
    "distributions": ("Distribution", "parse_distribution"),
    "endpoints": ("Endpoint", "FaultKind"),
    "errors": ("ConfigError", "OnyxBenchError"),
    "model": ("MockRequest", "OnyxModel"),
    "onyx_content": ("FOLDER_FILE_BASE",),
    "profile": ("Profile", "flag_overrides", "load_profile", "profile_from_mapping"),
    "server": ("RunningServer", "running_server", "serve_until_signalled"),
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _SUBMODULES)
