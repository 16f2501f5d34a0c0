"""A scenario: what to run. A TOML file, validated once into frozen models, expanded into cases.

    name = "seed-table"
    description = "..."
    seed = 42
    repetitions = 5
    time_scale = 0.05
    mode = "real"            # or "virtual": in-process mock on a virtual clock
    [server]                 # the mock's profile (mock_onyx.profile), without seed and time_scale;
    profile = "calibrated.toml"  # optional: a profile file as its base (scenarios.server_profile)
    latency.send_message = "uniform(15, 30)"
    [workload]
    files = [1, 3, 10, 20, 50]
    folders = [0]            # optional
    [[strategies]]
    kind = "batch"
    size = [5, 8, 10]        # a number or a list (batch, window; adaptive: its largest limit)
    heartbeat_s = [0, 10]    # policies, each a value or a list, expanded like sizes (0: none):
    retry = ["none", "exponential(5, 1, 30)"]   # heartbeats (all but sequential), retry specs
    rate_limit = 2           # (scenarios.policies), attempt starts per simulated second
    idle_timeout_s = 60      # top level, optional: the frontend drops a run this long without progress

Common random numbers: repetition ``r`` of every case runs with the profile seed
``seed * 1000 + r``, so every strategy sees the same per-file latencies and faults in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from mock_onyx import Profile, profile_from_mapping
from mock_onyx.errors import ConfigError
from scenarios.policies import DEFAULT_SIZE, default_retry, parse_retry, policy_label, policy_suffix
from scenarios.server_profile import check_profile_key, with_profile_file

SCENARIO_HELP = "the scenario format in README.md"
REPETITION_SEED_STRIDE = 1000
SIZED_KINDS = ("batch", "window", "adaptive")

Count = Annotated[StrictInt, Field(ge=0, le=100_000)]
Size = Annotated[StrictInt, Field(ge=1, le=10_000)]
Seconds = Annotated[StrictInt | StrictFloat, Field(ge=0, le=1e6, allow_inf_nan=False)]
HEARTBEAT_KINDS = ("batch", "window", "adaptive")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_duplicates(key: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A grid value given twice would be one case run twice: refuse it, naming it and the fix."""
    repeated = next((value for i, value in enumerate(values) if value in values[:i]), None)
    if repeated is not None:
        once = ", ".join(json.dumps(value) if isinstance(value, str) else str(value)
                         for value in dict.fromkeys(values))
        raise ConfigError(key, f"lists {repeated} more than once",
                          f"list each value once: {key.rsplit('.', 1)[-1]} = [{once}]")
    return values


class Workload(_Frozen):
    files: Annotated[tuple[Count, ...], Field(min_length=1)]
    folders: Annotated[tuple[Count, ...], Field(min_length=1)] = (0,)

    @field_validator("files", "folders")
    @classmethod
    def _each_value_once(cls, value: tuple[int, ...], info: Any) -> tuple[int, ...]:
        return _no_duplicates(f"workload.{info.field_name}", value)


class StrategyGrid(_Frozen):
    kind: Literal["sequential", "batch", "window", "adaptive"]
    size: Size | Annotated[tuple[Size, ...], Field(min_length=1)] | None = None

    @field_validator("size", mode="before")
    @classmethod
    def _no_empty_grid(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and not value:
            raise ConfigError("size", "is an empty list", "give at least one size, e.g. [8]")
        return value

    @field_validator("size")
    @classmethod
    def _sizes_only_where_they_mean_something(cls, value: Any, info: Any) -> Any:
        kind = info.data.get("kind")
        if value is not None and kind not in SIZED_KINDS:
            raise ConfigError("size", f"{kind} takes no size", "remove size, or use batch, window or adaptive")
        return _no_duplicates("size", value) if isinstance(value, tuple) else value

    heartbeat_s: Seconds | Annotated[tuple[Seconds, ...], Field(min_length=1)] = (0.0,)
    retry: StrictStr | Annotated[tuple[StrictStr, ...], Field(min_length=1)] | None = None
    rate_limit: Seconds | Annotated[tuple[Seconds, ...], Field(min_length=1)] = (0.0,)

    @field_validator("heartbeat_s", "retry", "rate_limit", mode="before")
    @classmethod
    def _no_empty_policy_list(cls, value: Any, info: Any) -> Any:
        if isinstance(value, list | tuple) and not value:
            raise ConfigError(info.field_name, "is an empty list", "give at least one value, or leave the key out")
        return value

    @field_validator("heartbeat_s")
    @classmethod
    def _heartbeats_where_they_mean_something(cls, value: Any, info: Any) -> Any:
        kind = info.data.get("kind")
        values = value if isinstance(value, tuple) else (value,)
        if any(values) and kind not in HEARTBEAT_KINDS:
            raise ConfigError("heartbeat_s", f"{kind} sends no heartbeats",
                              "remove heartbeat_s, or use batch, window or adaptive")
        return _no_duplicates("heartbeat_s", tuple(float(v) for v in values))

    @field_validator("retry")
    @classmethod
    def _retry_specs_parse(cls, value: Any) -> Any:
        if value is None:
            return None
        values = value if isinstance(value, tuple) else (value,)
        return _no_duplicates("retry", tuple(parse_retry(v).text for v in values))  # canonical

    @field_validator("rate_limit")
    @classmethod
    def _rates_once(cls, value: Any) -> Any:
        return _no_duplicates("rate_limit", tuple(float(v) for v in (value if isinstance(value, tuple) else (value,))))

    def sizes(self) -> tuple[int | None, ...]:
        if self.size is None:
            return (DEFAULT_SIZE[self.kind],) if self.kind in SIZED_KINDS else (None,)
        return self.size if isinstance(self.size, tuple) else (self.size,)

    def points(self) -> list[tuple[int | None, float, str | None, float]]:
        """Every (size, heartbeat_s, retry, rate_limit) of this table; a retry at the kind's default
        is None, so writing the default spec gives the same case as leaving it out."""
        default = parse_retry(default_retry(self.kind)).text
        retries = tuple(None if r == default else r for r in self.retry) if self.retry else (None,)
        return [(size, heartbeat, retry, rate) for size in self.sizes() for heartbeat in self.heartbeat_s
                for retry in retries for rate in self.rate_limit]


class Scenario(_Frozen):
    name: Annotated[StrictStr, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: StrictStr = ""
    seed: StrictInt = 0
    repetitions: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1
    time_scale: Annotated[StrictFloat, Field(gt=0, le=100, allow_inf_nan=False)] = 0.05  # as the profile's default
    mode: Literal["real", "virtual"] = "real"
    # The frontend drops a run after this many simulated seconds without a progress event (None: never)
    idle_timeout_s: Annotated[StrictInt | StrictFloat, Field(gt=0, le=1e6, allow_inf_nan=False)] | None = None
    server: dict[str, Any] = Field(default_factory=dict)
    workload: Workload
    strategies: Annotated[tuple[StrategyGrid, ...], Field(min_length=1)]

    @field_validator("server")
    @classmethod
    def _no_seed_or_scale_in_server(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("seed", "time_scale"):
            if key in value:
                raise ConfigError(f"server.{key}", "is set per scenario, not per server",
                                  f"move {key} to the top level of the scenario")
        check_profile_key(value)
        return value

    @model_validator(mode="after")
    def _each_strategy_once(self) -> Scenario:
        seen: set[tuple[Any, ...]] = set()
        for grid in self.strategies:
            for point in grid.points():
                if (grid.kind, *point) in seen:
                    size, heartbeat, retry, rate = point
                    name = grid.kind if size is None else f"{grid.kind} size {size}"
                    policies = policy_label(grid.kind, heartbeat, retry, rate)
                    raise ConfigError("strategies", f"lists {name}{f' ({policies})' if policies else ''} more than once",
                                      "give each kind (and size) in one [[strategies]] table, once")
                seen.add((grid.kind, *point))
        return self

    @model_validator(mode="after")
    def _a_grid_with_cases(self) -> Scenario:
        if not any(files + folders > 0 for files in self.workload.files for folders in self.workload.folders):
            raise ConfigError("workload", "the grid is empty: files + folders is 0 at every point",
                              "give at least one files (or folders) value above 0")
        return self

    def profile(self, repetition: int, source: str, base_dir: Path | None = None,
                allow_outside_paths: bool = False) -> Profile:
        """The server profile of repetition ``repetition`` (common to every strategy). The files
        it reads lie in ``base_dir``, the scenario's folder, unless ``allow_outside_paths``."""
        table = {**with_profile_file(self.server, base_dir, allow_outside_paths),
                 "seed": self.seed * REPETITION_SEED_STRIDE + repetition, "time_scale": self.time_scale}
        return profile_from_mapping(table, f"{source} [server]", base_dir, allow_outside_paths)

    def cases(self) -> list[Case]:
        return [Case(files, folders, grid.kind, size, repetition, heartbeat, retry, rate)
                for repetition in range(self.repetitions)
                for files in self.workload.files
                for folders in self.workload.folders
                if files + folders > 0
                for grid in self.strategies
                for size, heartbeat, retry, rate in grid.points()]


@dataclass(frozen=True, order=True)
class Case:
    """One run of a sweep: a point of the grid and a repetition."""

    files: int
    folders: int
    kind: str
    size: int | None
    repetition: int
    heartbeat_s: float = 0.0  # the policies (scenarios.policies); at their defaults a case id is
    retry: str | None = None  # what it was before they existed: None is the kind's own retry
    rate_limit: float = 0.0

    @property
    def case_id(self) -> str:
        """``f20-d0-batch-8-r0``; a policy off its default adds a part before the repetition:
        ``f20-d0-batch-8-hb10-retry-exponential-5-1-30-rate2-r0``."""
        size = "" if self.size is None else f"-{self.size}"
        policies = policy_suffix(self.kind, self.heartbeat_s, self.retry, self.rate_limit)
        return f"f{self.files}-d{self.folders}-{self.kind}{size}{policies}-r{self.repetition}"

    @property
    def policy(self) -> str:
        """The policies off their defaults, in words ("" when none is): tables name cases by it."""
        return policy_label(self.kind, self.heartbeat_s, self.retry, self.rate_limit)
