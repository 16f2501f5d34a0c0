"""Load a scenario by built-in name or by path, validated, with its full text kept for results."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mock_onyx.errors import ConfigError
from mock_onyx.validation import one_line_error
from scenarios.model import SCENARIO_HELP, Scenario

BUILTIN_FOLDER = "builtin"


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    source: str  # a path, or "builtin:NAME"
    text: str  # the TOML as written, for the results manifest
    base_dir: Path | None  # where relative paths (empirical CSVs) are resolved
    overrides: dict[str, Any] = field(default_factory=dict)  # command-line changes to the text

    def with_overrides(self, **changes: Any) -> LoadedScenario:
        """The scenario with top-level keys replaced (``None`` leaves a key as written)."""
        given = {key: value for key, value in changes.items() if value is not None}
        if not given:
            return self
        data = {**self.scenario.model_dump(), **given}
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as error:
            raise one_line_error(error, f"{self.source} (with command-line options)",
                                 SCENARIO_HELP) from None
        return LoadedScenario(scenario, self.source, self.text, self.base_dir,
                              {**self.overrides, **given})


def builtin_names() -> list[str]:
    folder = resources.files("scenarios") / BUILTIN_FOLDER
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir()
                  if entry.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> LoadedScenario:
    """A built-in scenario by name, or a TOML file by path."""
    path = Path(name_or_path)
    if name_or_path in builtin_names():
        resource = resources.files("scenarios") / BUILTIN_FOLDER / f"{name_or_path}.toml"
        return parse_scenario(resource.read_text(), f"builtin:{name_or_path}", None)
    if not path.is_file():
        raise ConfigError(name_or_path, "is neither a built-in scenario nor a readable file",
                          f"give a path, or one of: {', '.join(builtin_names())}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot read it ({error})", "give a readable TOML file") from None
    return parse_scenario(text, str(path), path.parent)


def parse_scenario(text: str, source: str, base_dir: Path | None) -> LoadedScenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, f"is not valid TOML ({error})", "fix the TOML syntax") from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise one_line_error(error, source, SCENARIO_HELP) from None
    scenario.profile(0, source, base_dir)  # the server table must be a valid profile, now
    return LoadedScenario(scenario, source, text, base_dir)
