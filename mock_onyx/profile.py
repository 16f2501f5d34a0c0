"""A server profile: how the mock behaves. Loaded from TOML, a scenario's ``[server]`` table, or flags.

    seed = 7
    time_scale = 0.05              # wall seconds per simulated second
    [latency]                      # simulated seconds, per endpoint name; default applies to the rest
    default = "fixed(0.05)"
    send_message = "uniform(15, 30)"
    [faults.send_message]          # per kind, its own chance to fire on a request; when several
    http_500 = 0.05                # fire, the first in behaviour.FAULT_PRECEDENCE is the fault
    reset = 0.02
    [capacity]                     # every key off unless given (mock_onyx.capacity)
    workers = 40                   # at most 40 requests served at once; the rest wait, FIFO
    queue_limit = 200              # at most 200 wait: the next is answered 503 at once
    slowdown_knee = 4              # a chat's reply stretched by 1 + 0.1 x (chats in service - 4)
    slowdown_per_chat = 0.1
    crash_inflight = 6             # a 7th chat in service crashes the server: every request
    restart_s = 30                 # in it is cut, and connections are refused for 30 s
    crash_knee = 4                 # a softer cliff: each chat starting with n chats in service
    crash_probability = 0.05       # crashes it with chance 0.05 x (n - 4) (a keyed draw)

Validation happens once, here, at the boundary (pydantic); every problem becomes a one-line
``ConfigError`` naming the source, the key, the value and the fix.

A profile file's ``empirical(...)`` CSVs must lie in its folder unless ``allow_outside_paths``
(``--allow-outside-paths``: mock_onyx.distributions); flags given with it are the user's own.
A profile a server sent (``profile_from_server``: a ``--target``'s ``/_mock/profile``) may name no
file at all unless the user allows it: its paths are the server's, not this machine's to open.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from mock_onyx.distributions import Distribution, parse_distribution
from mock_onyx.endpoints import (
    STREAM_ONLY_FAULTS,
    STREAMING_ENDPOINTS,
    Endpoint,
    FaultKind,
)
from mock_onyx.errors import ConfigError
from mock_onyx.validation import one_line_error

DEFAULT_LATENCY = "fixed(0.05)"
PROFILE_HELP = "the profile format in README.md"
SEED_SEND_MESSAGE_LATENCY = "uniform(15, 30)"

EndpointName = Literal["indexing_status", "persona", "create_chat_session", "simple_api",
                       "send_message", "folder", "folders"]
FaultName = Literal["http_500", "http_503", "http_429", "reset", "hang", "error_packet",
                    "empty_answer", "malformed"]
# allow_inf_nan=False: nan fails every bound check, and would read "should be less than or equal to 1"
Probability = Annotated[StrictFloat, Field(ge=0, le=1, allow_inf_nan=False)]
PositiveId = Annotated[StrictInt, Field(gt=0)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class FileSettings(_Settings):
    """Synthetic files: every positive id exists and is indexed unless listed here."""

    missing: frozenset[PositiveId] = frozenset()
    not_indexed: frozenset[PositiveId] = frozenset()


class FolderSettings(_Settings):
    """Synthetic folders: ``count`` are listed; any positive id exists unless ``missing``."""

    count: Annotated[StrictInt, Field(ge=0, le=10_000)] = 3
    files: Annotated[StrictInt, Field(ge=0, le=999)] = 5
    not_indexed_share: Probability = 0.2
    missing: frozenset[PositiveId] = frozenset()


class CapacitySettings(_Settings):
    """The server's limits (``mock_onyx.capacity``); a chat is a send-message call. All off by
    default: no worker limit, no slowdown, no crash."""

    workers: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    queue_limit: Annotated[StrictInt, Field(ge=0, le=1_000_000)] | None = None
    slowdown_knee: Annotated[StrictInt, Field(ge=0)] = 0
    slowdown_per_chat: Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)] = 0.0
    crash_inflight: Annotated[StrictInt, Field(ge=1)] | None = None
    restart_s: Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)] = 30.0
    crash_knee: Annotated[StrictInt, Field(ge=0)] = 0
    crash_probability: Probability = 0.0

    @property
    def enabled(self) -> bool:
        """Whether any limit is on (else the server is ideal, as the closed form assumes)."""
        return (self.workers is not None or self.slowdown_per_chat > 0
                or self.crash_inflight is not None or self.crash_probability > 0)

    @property
    def crashes(self) -> bool:
        return self.crash_inflight is not None or self.crash_probability > 0


class Profile(_Settings):
    """Everything the behaviour model needs; frozen, validated, in simulated seconds."""

    seed: StrictInt = 0
    # 0.05: a 30 s call takes 1.5 s of wall time, and the harness's own per-call CPU, which no
    # time scale compresses, stays near 1% of a makespan (README: "Time scale and accuracy").
    time_scale: Annotated[StrictFloat, Field(gt=0, le=100, allow_inf_nan=False)] = 0.05
    latency: dict[EndpointName | Literal["default"], Distribution] = Field(default_factory=dict)
    faults: dict[EndpointName, dict[FaultName, Probability]] = Field(default_factory=dict)
    error_latency: Distribution = Field(default_factory=lambda: parse_distribution("fixed(0.01)", ""))
    retry_after_s: Annotated[StrictInt, Field(ge=0)] = 5
    # Onyx streams an answer piece per token; the mock sends one per ``piece_interval_s``, a
    # coarsening that no makespan, status or fault depends on (the stream's end and its faults
    # keep their times). Each packet costs real CPU in both modes, an event-loop wake-up and, on
    # sockets, a write: 5 s keeps virtual mode near 3,800x real time (1 s: about 2,300x).
    piece_interval_s: Annotated[StrictFloat, Field(gt=0)] = 5.0
    hang_limit_s: Annotated[StrictFloat, Field(gt=0)] = 3600.0
    enterprise: StrictBool = False
    require_auth: StrictBool = False
    files: FileSettings = FileSettings()
    folders: FolderSettings = FolderSettings()
    capacity: CapacitySettings = CapacitySettings()

    @field_validator("latency", mode="before")
    @classmethod
    def _parse_latency(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, Mapping):
            return value
        context = info.context or {}
        known = {"default", *Endpoint}
        for name in value:
            if name not in known:
                raise ConfigError(f"latency.{name}", f"unknown endpoint {name!r}",
                                  f"use one of {', '.join(sorted(known))}")
        return {name: text if isinstance(text, Distribution)
                else parse_distribution(text, f"latency.{name}", context.get("base_dir"),
                                        context.get("allow_outside_paths", False))
                for name, text in value.items()}

    @field_validator("error_latency", mode="before")
    @classmethod
    def _parse_error_latency(cls, value: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        if isinstance(value, Distribution):
            return value
        return parse_distribution(value, "error_latency", context.get("base_dir"),
                                  context.get("allow_outside_paths", False))

    @model_validator(mode="after")
    def _check_faults(self) -> Profile:
        for endpoint, kinds in self.faults.items():
            total = sum(kinds.values())
            if total > 1 + 1e-9:
                # Kept from when the kinds shared one draw. With a draw per kind a larger sum
                # would be well defined, but the sum bounds the share of requests that fault,
                # and a sum past 1 is likelier a slip than a plan.
                raise ConfigError(f"faults.{endpoint}", f"probabilities sum to {total:g} > 1",
                                  "lower them to a sum of at most 1")
            for kind in kinds:
                if kind in STREAM_ONLY_FAULTS and endpoint not in STREAMING_ENDPOINTS:
                    raise ConfigError(f"faults.{endpoint}.{kind}",
                                      f"{kind} happens only inside send-message's stream",
                                      "move it to [faults.send_message]")
        capacity = self.capacity
        if capacity.queue_limit is not None and capacity.workers is None:
            raise ConfigError("capacity.queue_limit", f"{capacity.queue_limit} bounds the queue for "
                              "workers, and no workers are set", "set capacity.workers too, or drop it")
        return self

    @field_serializer("latency")
    def _show_latency(self, latency: dict[str, Distribution]) -> dict[str, str]:
        return {name: str(dist) for name, dist in latency.items()}

    @field_serializer("error_latency")
    def _show_error_latency(self, dist: Distribution) -> str:
        return str(dist)

    def latency_of(self, endpoint: Endpoint) -> Distribution:
        """The endpoint's distribution, else ``default``, else the seed's defaults."""
        if endpoint in self.latency:
            return self.latency[endpoint]
        if endpoint is Endpoint.SEND_MESSAGE:
            return parse_distribution(SEED_SEND_MESSAGE_LATENCY, "latency.send_message")
        return self.latency.get("default") or parse_distribution(DEFAULT_LATENCY, "latency.default")

    def faults_of(self, endpoint: Endpoint) -> dict[FaultKind, float]:
        return {FaultKind(kind): p for kind, p in self.faults.get(endpoint, {}).items() if p > 0}

    def to_document(self) -> dict[str, Any]:
        """A plain dict that ``profile_from_mapping`` reads back to an equal profile (for results)."""
        return self.model_dump(mode="json")


def profile_from_mapping(data: Mapping[str, Any], source: str, base_dir: Path | None = None,
                         allow_outside_paths: bool = False) -> Profile:
    """Validate ``data`` (a parsed TOML table); ``source`` names it in errors. ``base_dir``: the
    folder of the file it was read from, where its ``empirical`` CSVs must be unless
    ``allow_outside_paths`` (None: not from a file, read against the working directory)."""
    try:
        return Profile.model_validate(dict(data), context={"base_dir": base_dir,
                                                           "allow_outside_paths": allow_outside_paths})
    except ValidationError as error:
        raise one_line_error(error, source, PROFILE_HELP) from None
    except ConfigError as error:
        raise ConfigError(f"{source}: {error.where}", error.problem, error.fix) from None


def load_profile(path: Path | None = None, overrides: Mapping[str, Any] | None = None,
                 allow_outside_paths: bool = False) -> Profile:
    """Read a TOML profile (or start from the defaults) and apply flag overrides on top."""
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    source = str(path) if path is not None else "profile"
    try:
        # The flags' distributions parsed first, as the user's own (base_dir None: the working
        # directory, anywhere): merged into the file's table they would be confined to its folder.
        flags = parsed_distributions(overrides or {}, "", None)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error.where}", error.problem, error.fix) from None
    merged = merge_tables(data, flags)
    return profile_from_mapping(merged, source, path.parent if path is not None else None, allow_outside_paths)


def profile_from_server(data: Mapping[str, Any], source: str, allow_files: bool = False) -> Profile:
    """Validate a profile a server sent (``source``: its ``/_mock/profile``): one naming a file
    (``empirical(path)``) raises ``ServerFileRefused`` before anything is opened, unless
    ``allow_files`` (the user's ``--allow-outside-paths``: then read as a flag's would be). Its
    distributions are parsed first, outside pydantic, so that the refusal keeps its type."""
    try:
        parsed = parsed_distributions(data, "", None, allow_files, from_server=True)
    except ConfigError as error:  # ServerFileRefused keeps its type
        raise type(error)(f"{source}: {error.where}", error.problem, error.fix) from None
    return profile_from_mapping(parsed, source)  # every distribution in it parsed already


def parsed_distributions(table: Mapping[str, Any], where: str, base_dir: Path | None,
                         allow_outside_paths: bool = False, *, from_server: bool = False) -> dict[str, Any]:
    """``table`` with its ``latency`` and ``error_latency`` texts parsed where ``base_dir`` says
    (the validators pass a parsed distribution through): for a table that is merged into one
    from elsewhere, whose folder is not this one's, or that a server sent (``from_server``).
    ``where`` prefixes the settings in errors."""
    parsed = dict(table)
    latency = table.get("latency")
    if isinstance(latency, Mapping):
        parsed["latency"] = {name: parse_distribution(text, f"{where}latency.{name}", base_dir, allow_outside_paths,
                                                      from_server=from_server)
                             if isinstance(text, str) else text for name, text in latency.items()}
    if isinstance(table.get("error_latency"), str):
        parsed["error_latency"] = parse_distribution(table["error_latency"], f"{where}error_latency", base_dir,
                                                     allow_outside_paths, from_server=from_server)
    return parsed


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(str(path), f"cannot read it ({error.strerror})",
                          "give the path of an existing TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"is not valid TOML ({error})", "fix the TOML syntax") from None


def merge_tables(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``top`` over ``base`` (tables merge, other values replace)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_tables(merged[key], value)
        else:
            merged[key] = value
    return merged


def flag_overrides(latencies: Iterable[str] = (), faults: Iterable[str] = (),
                   seed: int | None = None, time_scale: float | None = None) -> dict[str, Any]:
    """Turn ``--latency NAME=DIST`` and ``--fault NAME:KIND=P`` flags into a profile table."""
    table: dict[str, Any] = {"latency": {}, "faults": {}}
    for flag in latencies:
        name, sep, dist = flag.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--latency {flag!r}", "expected NAME=DIST",
                              "write e.g. --latency send_message='uniform(15, 30)'")
        table["latency"][name.strip()] = dist.strip()
    for flag in faults:
        target, sep, raw_p = flag.partition("=")
        endpoint, colon, kind = target.partition(":")
        if not sep or not colon:
            raise ConfigError(f"--fault {flag!r}", "expected NAME:KIND=P",
                              "write e.g. --fault send_message:reset=0.05")
        try:
            probability = float(raw_p)
        except ValueError:
            raise ConfigError(f"--fault {flag!r}", f"{raw_p!r} is not a probability",
                              "give a number between 0 and 1") from None
        table["faults"].setdefault(endpoint.strip(), {})[kind.strip()] = probability
    if seed is not None:
        table["seed"] = seed
    if time_scale is not None:
        table["time_scale"] = time_scale
    return {key: value for key, value in table.items() if value != {}}
