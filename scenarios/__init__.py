"""Declarative sweeps: scenarios (TOML) validated into frozen models and expanded into cases.

The names below are imported on first use (PEP 562), so importing this package costs nothing
until a scenario is loaded.
"""

import importlib
from typing import TYPE_CHECKING, Any

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
_HOME = {name: f"{__name__}.{module}" for module, names in _SUBMODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
