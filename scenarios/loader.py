"""Load a scenario by built-in name or by path, validated, with its full text kept for results.

A scenario file is data: the files it names (``empirical`` CSVs, a ``[server] profile``) must lie
in its folder unless the user allows otherwise (``--allow-outside-paths``), an allowance the
``LoadedScenario`` carries beside ``base_dir`` to every later reading of its profile.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mock_onyx import Profile
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
    # The user's --allow-outside-paths: files outside base_dir may be read. Not recorded in the
    # results manifest (nor in overrides): a results folder is a file someone can hand you too, so a
    # report that reads its scenario again reads it confined, and drops what it cannot read.
    allow_outside_paths: bool = False
    # Each repetition's profile, resolved once: a command asks for it to validate, to estimate, to
    # plan and to fingerprint the results, and every one of them must see the same files' contents.
    _profiles: dict[int, Profile] = field(default_factory=dict, init=False, repr=False, compare=False)

    def profile(self, repetition: int) -> Profile:
        """The server profile of ``repetition``, its files read (once) as this scenario was allowed to."""
        if repetition not in self._profiles:
            self._profiles[repetition] = self.scenario.profile(repetition, self.source, self.base_dir,
                                                               self.allow_outside_paths)
        return self._profiles[repetition]

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
                              {**self.overrides, **given}, self.allow_outside_paths)


def builtin_names() -> list[str]:
    folder = resources.files("scenarios") / BUILTIN_FOLDER
    return sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir()
                  if entry.name.endswith(".toml"))


def load_scenario(name_or_path: str, allow_outside_paths: bool = False) -> LoadedScenario:
    """A built-in scenario by name, or a TOML file by path (the files it names in its folder,
    unless ``allow_outside_paths``)."""
    path = Path(name_or_path)
    if name_or_path in builtin_names():
        resource = resources.files("scenarios") / BUILTIN_FOLDER / f"{name_or_path}.toml"
        # base_dir None: a built-in is ours, not a file handed to us (and names no file anyway).
        return parse_scenario(resource.read_text(), f"builtin:{name_or_path}", None)
    if not path.is_file():
        raise ConfigError(name_or_path, "is neither a built-in scenario nor a readable file",
                          f"give a path, or one of: {', '.join(builtin_names())}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot read it ({error})", "give a readable TOML file") from None
    return parse_scenario(text, str(path), path.parent, allow_outside_paths)


def parse_scenario(text: str, source: str, base_dir: Path | None,
                   allow_outside_paths: bool = False) -> LoadedScenario:
    loaded = LoadedScenario(scenario_grid(text, source), source, text, base_dir,
                            allow_outside_paths=allow_outside_paths)
    loaded.profile(0)  # the server table must be a valid profile, now
    return loaded


def scenario_grid(text: str, source: str) -> Scenario:
    """The scenario's grid and settings, validated, its server table not resolved: no file it
    names is read. For what a results folder's report needs of the scenario that wrote it (the
    cases it planned, its idle timeout), which must not depend on files that moved, or that lie
    outside its folder and were read under the sweep's ``--allow-outside-paths``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, f"is not valid TOML ({error})", "fix the TOML syntax") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise one_line_error(error, source, SCENARIO_HELP) from None
