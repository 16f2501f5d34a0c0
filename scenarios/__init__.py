"""Declarative sweeps: scenarios (TOML) validated into frozen models and expanded into cases.

The names below are imported on first use (PEP 562), so importing this package costs nothing
until a scenario is loaded.
"""

from typing import TYPE_CHECKING

from mock_onyx.lazy import lazy_exports

if TYPE_CHECKING:
    from scenarios.loader import (
        LoadedScenario,
        builtin_names,
        load_scenario,
        parse_scenario,
    )
    from scenarios.model import Case, Scenario, StrategyGrid, Workload

__all__ = ["Case", "LoadedScenario", "Scenario", "StrategyGrid", "Workload", "builtin_names",
           "load_scenario", "parse_scenario"]

_SUBMODULES = {
    "loader": ("LoadedScenario", "builtin_names", "load_scenario", "parse_scenario"),
    "model": ("Case", "Scenario", "StrategyGrid", "Workload"),
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _SUBMODULES)
