"""Latency distributions in simulated seconds, written as text: ``uniform(15, 30)``.

Each distribution samples by its inverse CDF from one keyed uniform number ``u`` (see ``draws``),
so one file keeps its rank across profiles: with the same seed a file that is slow under
``uniform(15, 30)`` is slow under ``lognormal(20, 60)`` too (a monotone coupling).

    fixed(s)                 always s
    uniform(a, b)            a <= x <= b, 0 <= a <= b
    normal(mean, sd)         truncated at 0 (resampled by inverse CDF on [0, inf))
    lognormal(median, p99)   0 < median < p99; the 99th percentile is p99
    empirical(path.csv)      observed durations; linear interpolation between order statistics

A distribution read from a file (a profile, a scenario) is data: its ``empirical(path)`` may read
only inside that file's folder (``base_dir``), checked on the resolved path before anything is
opened, unless the user passes ``allow_outside_paths`` (``--allow-outside-paths``); one typed on
the command line (``base_dir`` None: the working directory) is the user's own and reads anywhere.
One a server sent (``from_server``: a ``--target``'s ``/_mock/profile``) names a path on that
server, and may make this machine open nothing: ``ServerFileRefused`` before anything is opened,
unless the user passes ``allow_outside_paths`` (then read as a flag's would be).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Protocol, runtime_checkable

from mock_onyx.errors import ConfigError

_STANDARD_NORMAL = NormalDist()
_Z99 = _STANDARD_NORMAL.inv_cdf(0.99)
# normal(mean, sd) is truncated at 0; a mean further below 0 than this many sd leaves less than
# one draw in a billion above it, and the truncated mean and quantiles lose their precision (at
# about 8.3 sd the mass above 0 rounds to nothing and the mean divides by zero).
_NORMAL_MIN_Z = -6.0
_SPEC = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


@runtime_checkable
class Distribution(Protocol):
    """What the behaviour model needs of a latency distribution."""

    @property
    def mean(self) -> float: ...

    def quantile(self, u: float) -> float: ...


@dataclass(frozen=True)
class Fixed:
    seconds: float

    @property
    def mean(self) -> float:
        return self.seconds

    def quantile(self, u: float) -> float:
        return self.seconds

    def __str__(self) -> str:
        return f"fixed({self.seconds:g})"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def quantile(self, u: float) -> float:
        return self.low + (self.high - self.low) * u

    def __str__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class TruncatedNormal:
    mu: float
    sd: float

    @property
    def _cut(self) -> float:
        """The probability mass below 0 that truncation removes."""
        return NormalDist(self.mu, self.sd).cdf(0.0) if self.sd > 0 else 0.0

    @property
    def mean(self) -> float:
        if self.sd == 0:
            return max(self.mu, 0.0)
        alpha = -self.mu / self.sd
        return self.mu + self.sd * _STANDARD_NORMAL.pdf(alpha) / (1 - self._cut)

    def quantile(self, u: float) -> float:
        if self.sd == 0:
            return max(self.mu, 0.0)
        p = self._cut + u * (1 - self._cut)
        p = min(max(p, 1e-12), 1 - 1e-12)
        return max(0.0, NormalDist(self.mu, self.sd).inv_cdf(p))

    def __str__(self) -> str:
        return f"normal({self.mu:g}, {self.sd:g})"


@dataclass(frozen=True)
class LogNormal:
    median: float
    p99: float

    @property
    def sigma(self) -> float:
        return (math.log(self.p99) - math.log(self.median)) / _Z99

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def quantile(self, u: float) -> float:
        p = min(max(u, 1e-12), 1 - 1e-12)
        return self.median * math.exp(self.sigma * _STANDARD_NORMAL.inv_cdf(p))

    def __str__(self) -> str:
        return f"lognormal({self.median:g}, {self.p99:g})"


@dataclass(frozen=True)
class Empirical:
    source: str
    observations: tuple[float, ...]  # sorted ascending

    @property
    def mean(self) -> float:
        return math.fsum(self.observations) / len(self.observations)

    def quantile(self, u: float) -> float:
        values = self.observations
        position = u * (len(values) - 1)
        below = int(position)
        above = min(below + 1, len(values) - 1)
        return values[below] + (values[above] - values[below]) * (position - below)

    def __str__(self) -> str:
        return f"empirical({self.source})"


_EMPIRICAL_HINT = "give a CSV with one duration in simulated seconds per row (a header row is allowed)"
_FORMS = "fixed(s), uniform(a, b), normal(mean, sd), lognormal(median, p99) or empirical(path.csv)"


class ServerFileRefused(ConfigError):
    """A server's profile names a file (``empirical(path)``) and the user did not allow reading
    it: told apart from a profile that is merely invalid, which a ``--target`` takes as "not a mock"."""


def parse_distribution(text: str, where: str, base_dir: Path | None = None,
                       allow_outside_paths: bool = False, *, from_server: bool = False) -> Distribution:
    """Parse ``text`` such as ``uniform(15, 30)``; ``where`` names the setting in errors.

    ``base_dir`` is the folder of the file ``text`` comes from: an ``empirical`` path is read
    relative to it and must lie inside it unless ``allow_outside_paths``. None: the text is the
    user's own (a flag), read relative to the working directory, from anywhere. ``from_server``:
    the text is a server's, whose ``empirical`` path is refused (``ServerFileRefused``) unless
    ``allow_outside_paths``."""
    match = _SPEC.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(where, f"{text!r} is not a distribution", f"write one of {_FORMS}")
    kind, raw_args = match.group(1), match.group(2).strip()
    if kind == "empirical":
        written = raw_args.strip().strip("'\"")
        if from_server and not allow_outside_paths:
            raise ServerFileRefused(where, f"the target's profile names empirical({written!r}), a file path: "
                                           f"onyx-bench reads files a server names only with --allow-outside-paths",
                                    "pass --allow-outside-paths if the target runs on this machine and you trust "
                                    "it, or give the server a distribution without a file")
        inside = None if base_dir is None or allow_outside_paths else base_dir
        return _load_empirical(resolved_inside(written, base_dir or Path.cwd(), inside, where, "CSV",
                                               _EMPIRICAL_HINT), where)
    args = _numbers(raw_args, where, text)
    builders = {"fixed": (1, _fixed), "uniform": (2, _uniform), "normal": (2, _normal),
                "lognormal": (2, _lognormal)}
    if kind not in builders:
        raise ConfigError(where, f"unknown distribution {kind!r} in {text!r}", f"use one of {_FORMS}")
    arity, build = builders[kind]
    if len(args) != arity:
        raise ConfigError(where, f"{kind} takes {arity} number(s), got {len(args)} in {text!r}",
                          f"write it as in {_FORMS}")
    return _finite(build(args, where, text), where, text)


def _finite(dist: Distribution, where: str, text: str) -> Distribution:
    """``dist``, if its mean and its whole range are finite numbers: finite arguments can still
    overflow them (lognormal(1, 1e308)'s mean, normal(1e308, 1e308)'s top draw), which would
    otherwise surface as a traceback when the profile is validated or as a failed run."""
    try:
        values = (dist.mean, dist.quantile(0.0), dist.quantile(1.0))
    except ArithmeticError:  # OverflowError from math.exp
        values = (math.inf,)
    if not all(math.isfinite(value) for value in values):
        raise ConfigError(where, f"{text!r} overflows (its mean or its largest draw is not a finite number)",
                          "give durations of a sensible size in simulated seconds")
    return dist


def _numbers(raw_args: str, where: str, text: str) -> list[float]:
    if not raw_args:
        return []
    try:
        values = [float(part) for part in raw_args.split(",")]
    except ValueError:
        raise ConfigError(where, f"{text!r} has an argument that is not a number",
                          "give plain numbers of simulated seconds, e.g. uniform(15, 30)") from None
    if not all(math.isfinite(value) for value in values):
        raise ConfigError(where, f"{text!r} has a non-finite argument", "use finite numbers")
    return values


def _fixed(args: list[float], where: str, text: str) -> Distribution:
    if args[0] < 0:
        raise ConfigError(where, f"{text!r} is negative", "a duration is >= 0 simulated seconds")
    return Fixed(args[0])


def _uniform(args: list[float], where: str, text: str) -> Distribution:
    low, high = args
    if low < 0 or high < low:
        raise ConfigError(where, f"{text!r} needs 0 <= a <= b", f"write uniform({min(args):g}, {max(args):g})"
                          if min(args) >= 0 else "use non-negative bounds")
    return Uniform(low, high)


def _normal(args: list[float], where: str, text: str) -> Distribution:
    mu, sd = args
    if sd < 0:
        raise ConfigError(where, f"{text!r} has a negative standard deviation", "give sd >= 0")
    if mu <= 0 and sd == 0:
        raise ConfigError(where, f"{text!r} is never positive", "give a positive mean")
    if sd > 0 and mu / sd < _NORMAL_MIN_Z:
        raise ConfigError(where, f"{text!r} is almost never positive (its mean is {-mu / sd:.3g} sd "
                                 f"below 0, where it is truncated)",
                          f"give a mean of at least {_NORMAL_MIN_Z:g} sd: normal({_NORMAL_MIN_Z * sd:g}, {sd:g}) "
                          f"or above, or a larger sd")
    return TruncatedNormal(mu, sd)


def _lognormal(args: list[float], where: str, text: str) -> Distribution:
    median, p99 = args
    if median <= 0 or p99 <= median:
        raise ConfigError(where, f"{text!r} needs 0 < median < p99",
                          "give the median and the 99th percentile in simulated seconds, "
                          "e.g. lognormal(20, 45)")
    return LogNormal(median, p99)


def resolved_inside(written: str, base_dir: Path, inside: Path | None, where: str, what: str, hint: str) -> Path:
    """``written`` (relative to ``base_dir``) resolved, symlinks and ``..`` included; a
    ``ConfigError`` before anything is opened if ``inside`` is given and it lies outside that
    folder. ``what`` names the file's kind in the fix ("CSV"), ``hint`` the fix when the path
    cannot even be resolved (a NUL byte in it, a symlink loop)."""
    path = Path(written)
    try:
        resolved = (path if path.is_absolute() else base_dir / path).resolve()
        # The folder resolved too: a folder reached through a symlink is still the folder itself.
        folder = None if inside is None else inside.resolve()
    except (OSError, ValueError, RuntimeError) as error:  # ValueError: NUL; RuntimeError: a loop (3.11)
        # Refused as unreadable, confined or not: a path that cannot be resolved cannot be opened.
        raise ConfigError(where, f"cannot read {written!r} ({error})", hint) from None
    if folder is not None and not resolved.is_relative_to(folder):
        raise ConfigError(where, f"{written!r} resolves to {str(resolved)!r}, outside {str(folder)!r}, the folder "
                                 f"of the file that names it (a file may read only inside its own folder)",
                          f"move the {what} into {str(folder)!r} (or below it), or pass --allow-outside-paths "
                          f"if you trust the file")
    return resolved


def _load_empirical(path: Path, where: str) -> Distribution:
    """The durations in ``path``, resolved and already checked: the path opened is the one that
    passed the check, not the one written (no symlink or ``..`` left in it to follow again)."""
    hint = _EMPIRICAL_HINT
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and row[0].strip()]
    except OSError as error:
        raise ConfigError(where, f"cannot read {str(path)!r} ({error.strerror})", hint) from None
    except UnicodeDecodeError:
        raise ConfigError(where, f"cannot read {str(path)!r} (it is not UTF-8 text)", hint) from None
    except ValueError as error:  # a path no file can have: "embedded null byte"
        raise ConfigError(where, f"cannot read {str(path)!r} ({error})", hint) from None
    values = []
    for index, row in enumerate(rows):
        try:
            values.append(float(row[0]))
        except ValueError:
            if index == 0:
                continue  # a header row
            raise ConfigError(where, f"{str(path)!r} row {index + 1} is not a number: {row[0]!r}",
                              hint) from None
    for row, value in enumerate(values, start=2 if len(rows) > len(values) else 1):
        if value < 0 or not math.isfinite(value):
            raise ConfigError(where, f"{str(path)!r} row {row} is {value!r}, not a duration", hint)
    if not values:
        raise ConfigError(where, f"{str(path)!r} holds no durations", hint)
    # The resolved path, so that the profile written into results and handed to sweep workers
    # and to `--target` runs reads back the same file from any working directory.
    return Empirical(str(path), tuple(sorted(values)))
