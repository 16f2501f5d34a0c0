"""A scenario's ``[server] profile = "FILE"``: a profile file (as ``onyx-bench calibrate`` writes
one, or ``run --profile`` reads one) as the base of the scenario's server, its other ``[server]``
keys on top.

The file is read relative to the scenario (else the working directory), and the distributions in
it relative to the file itself, as ``run --profile FILE`` reads them: a calibrated profile names
its ``empirical(...)`` CSVs beside it. Like ``[server]`` it may not set ``seed`` or ``time_scale``
(they are the scenario's, per repetition).

A scenario is data: the file must lie in the scenario's folder, and its CSVs in the file's own
folder, unless the user passes ``allow_outside_paths`` (``--allow-outside-paths``); both checked
on the resolved paths before anything is read (``mock_onyx.distributions.resolved_inside``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_onyx.distributions import resolved_inside
from mock_onyx.errors import ConfigError
from mock_onyx.profile import merge_tables, parsed_distributions, read_toml

PROFILE_KEY = "profile"
PROFILE_KEY_SETTING = "server.profile"


def with_profile_file(server: Mapping[str, Any], base_dir: Path | None,
                      allow_outside_paths: bool = False) -> dict[str, Any]:
    """``server`` without its ``profile`` key, merged over the file that key names (if any).
    ``base_dir``: the scenario's folder (None: a built-in, ours, read against the working directory)."""
    table = dict(server)
    name = table.pop(PROFILE_KEY, None)
    if name is None:
        return table
    path = Path(name)
    path = path if path.is_absolute() else (base_dir or Path.cwd()) / path
    inside = None if base_dir is None or allow_outside_paths else base_dir
    resolved = resolved_inside(name, base_dir or Path.cwd(), inside, PROFILE_KEY_SETTING, "profile file",
                               "give the path of an existing TOML file")
    included = read_toml(resolved)  # the file that passed the check
    for key in ("seed", "time_scale"):
        if key in included:
            raise ConfigError(f"server.profile {str(path)!r}: {key}", "is set per scenario, not in the server's "
                              "profile", f"delete {key} from {path.name} (the scenario's top-level {key} applies)")
    # Its CSVs relative to its own folder, and confined to it, as written (a symlink to the file
    # is not followed for that: its folder is where it is named, as run --profile reads it).
    return merge_tables(parsed_distributions(included, f"{path} ", path.parent, allow_outside_paths), table)


def check_profile_key(server: Mapping[str, Any]) -> None:
    name = server.get(PROFILE_KEY)
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError("server.profile", f"{name!r} is not a file name",
                          'give the path of a profile file, e.g. profile = "calibrated.toml"')
