"""A scenario's ``[server] profile = "FILE"``: a profile file (as ``onyx-bench calibrate`` writes
one, or ``run --profile`` reads one) as the base of the scenario's server, its other ``[server]``
keys on top.

The file is read relative to the scenario (else the working directory), and the distributions in
it relative to the file itself, as ``run --profile FILE`` reads them: a calibrated profile names
its ``empirical(...)`` CSVs beside it. Like ``[server]`` it may not set ``seed`` or ``time_scale``
(they are the scenario's, per repetition).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_onyx.distributions import parse_distribution
from mock_onyx.errors import ConfigError
from mock_onyx.profile import merge_tables, read_toml

PROFILE_KEY = "profile"


def with_profile_file(server: Mapping[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """``server`` without its ``profile`` key, merged over the file that key names (if any)."""
    table = dict(server)
    name = table.pop(PROFILE_KEY, None)
    if name is None:
        return table
    path = Path(name)
    path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
    included = read_toml(path)
    for key in ("seed", "time_scale"):
        if key in included:
            raise ConfigError(f"server.profile {str(path)!r}: {key}", "is set per scenario, not in the server's "
                              "profile", f"delete {key} from {path.name} (the scenario's top-level {key} applies)")
    return merge_tables(_parsed_distributions(included, path), table)


def check_profile_key(server: Mapping[str, Any]) -> None:
    name = server.get(PROFILE_KEY)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError("server.profile", f"{name!r} is not a file name",
                          'give the path of a profile file, e.g. profile = "calibrated.toml"')


def _parsed_distributions(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """The file's distributions parsed where the file is (its empirical CSVs are beside it)."""
    parsed = dict(table)
    latency = table.get("latency")
    if isinstance(latency, Mapping):
        parsed["latency"] = {name: parse_distribution(text, f"{path} latency.{name}", path.parent)
                             if isinstance(text, str) else text for name, text in latency.items()}
    if isinstance(table.get("error_latency"), str):
        parsed["error_latency"] = parse_distribution(table["error_latency"], f"{path} error_latency", path.parent)
    return parsed
