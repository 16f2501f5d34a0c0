"""Declarative sweeps: scenarios (TOML) validated into frozen models and expanded into cases."""

from scenarios.loader import (
           LoadedScenario,
           builtin_names,
           load_scenario,
           parse_scenario,
)
from scenarios.model import Case, Scenario, StrategyGrid, Workload

__all__ = ["Case", "LoadedScenario", "Scenario", "StrategyGrid", "Workload", "builtin_names",
           "load_scenario", "parse_scenario"]
