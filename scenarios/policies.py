"""The policies a strategy takes, as settings: what to run, with no code that runs them.

A retry policy is written as a short spec, the same in a scenario (``retry = "fixed(3, 1)"``) and
on the command line (``--retry 'exponential(5, 1, 30)'``):

    none                                  one attempt: a failed item is skipped at once (production's)
    fixed(ATTEMPTS, WAIT)                 up to ATTEMPTS tries, WAIT simulated s apart (the seed's: fixed(3, 1))
    exponential(ATTEMPTS, BASE, CAP)      waits BASE, 2 BASE, 4 BASE, ... at most CAP, each shortened
                                          by a jitter (below)

and after the numbers, in any order, ``key=value``:

    deadline=S        no retry starts later than S simulated s after the run's start
    jitter=J          exponential only: a wait d becomes d * (1 - J * u), u uniform in [0, 1) drawn
                      per item and retry from the run's seed (default 0.5: "equal jitter", never
                      under half the backoff; 1 is "full jitter", 0 none)
    retry_after=yes   wait at least what a 429's Retry-After asks (default: yes for exponential,
                      no for fixed, which waits WAIT whatever the server says, as the seed's loop did)

``RetrySpec.text`` is the canonical spelling (``parse_retry(spec.text) == spec``), and ``token``
a form for case ids and folder names. The harness's ``RetryPolicy`` runs a ``RetrySpec``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from mock_onyx.errors import ConfigError

RETRY_HELP = "none, fixed(ATTEMPTS, WAIT) or exponential(ATTEMPTS, BASE, CAP), then optionally deadline=S, " \
             "jitter=J, retry_after=yes|no"
MAX_ATTEMPTS = 100
EXPONENTIAL_JITTER = 0.5
# The retry each strategy takes when none is given: the seed's loop for sequential, none for the rest.
DEFAULT_RETRY = {"sequential": "fixed(3, 1)", "batch": "none", "window": "none", "adaptive": "none"}
# The size each sized strategy takes when none is given: batch and window 8 (the seed's batch),
# adaptive's largest limit 16 (the top of the sizes a tuning explores: it finds its own below that).
DEFAULT_SIZE = {"batch": 8, "window": 8, "adaptive": 16}
_SPEC = re.compile(r"^\s*(?P<name>[a-z]+)\s*(?:\((?P<args>[^()]*)\))?\s*$")
_YES, _NO = ("yes", "true", "1"), ("no", "false", "0")


@dataclass(frozen=True)
class RetrySpec:
    """Whole-item retries. The defaults are a single attempt (``none``)."""

    max_attempts: int = 1
    wait_s: float = 0.0  # fixed: every wait; exponential: the first (BASE)
    backoff: Literal["fixed", "exponential"] = "fixed"
    cap_s: float | None = None  # exponential: the longest wait (Retry-After may ask for more)
    jitter: float = 0.0
    deadline_s: float | None = None  # since the run's start
    retry_after: bool = False

    @property
    def text(self) -> str:
        """The canonical spec: ``none``, ``fixed(3, 1)``, ``exponential(5, 1, 30, deadline=120)``."""
        if self.max_attempts <= 1:
            return "none"
        numbers = [self.max_attempts, self.wait_s] + ([self.cap_s] if self.backoff == "exponential" else [])
        keywords = []
        if self.deadline_s is not None:
            keywords.append(f"deadline={_num(self.deadline_s)}")
        if self.backoff == "exponential" and self.jitter != EXPONENTIAL_JITTER:
            keywords.append(f"jitter={_num(self.jitter)}")
        if self.retry_after != (self.backoff == "exponential"):
            keywords.append(f"retry_after={'yes' if self.retry_after else 'no'}")
        return f"{self.backoff}({', '.join([*(_num(n) for n in numbers if n is not None), *keywords])})"

    @property
    def token(self) -> str:
        """The spec as a case id part: ``fixed-3-1``, ``exponential-5-1-30-deadline120``."""
        return re.sub(r"[(, ]+", "-", self.text).replace("=", "").rstrip(")").rstrip("-")


def _num(value: float) -> str:
    return f"{value:g}"


def _number(text: str, what: str, spec: str, minimum: float, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        kind = "a whole number" if whole else "a number"
        raise ConfigError("retry", f"{spec!r}: {what} {text.strip()!r} is not {kind} >= {minimum:g}",
                          f"give {RETRY_HELP}")
    return value


def parse_retry(spec: str) -> RetrySpec:
    """A ``RetrySpec`` from its text (module docstring); bad text is a ``ConfigError`` naming it."""
    match = _SPEC.match(spec)
    if match is None or match["name"] not in ("none", "fixed", "exponential"):
        raise ConfigError("retry", f"{spec!r} is not a retry policy", f"give {RETRY_HELP}")
    name, args = match["name"], [a.strip() for a in (match["args"] or "").split(",") if a.strip()]
    positional = [a for a in args if "=" not in a]
    keywords = dict(a.split("=", 1) for a in args if "=" in a)
    wanted = {"none": 0, "fixed": 2, "exponential": 3}[name]
    if len(positional) != wanted or args[:wanted] != positional or (name == "none" and args):
        raise ConfigError("retry", f"{spec!r}: {name} takes {wanted} number(s) before any key=value",
                          f"give {RETRY_HELP}")
    if name == "none":
        return RetrySpec()
    attempts = int(_number(positional[0], "ATTEMPTS", spec, 1, whole=True))
    if attempts > MAX_ATTEMPTS:
        raise ConfigError("retry", f"{spec!r}: {attempts} attempts is too many", f"give at most {MAX_ATTEMPTS}")
    wait = _number(positional[1], "WAIT" if name == "fixed" else "BASE", spec, 0)
    cap = _number(positional[2], "CAP", spec, wait) if name == "exponential" else None
    options = _keywords(keywords, spec, exponential=name == "exponential")
    return RetrySpec(max_attempts=attempts, wait_s=wait, backoff=name, cap_s=cap,  # type: ignore[arg-type]
                     jitter=options.get("jitter", EXPONENTIAL_JITTER if name == "exponential" else 0.0),
                     deadline_s=options.get("deadline"),
                     retry_after=bool(options.get("retry_after", name == "exponential")))


def _keywords(keywords: dict[str, str], spec: str, exponential: bool) -> dict[str, float]:
    known = ("deadline", "jitter", "retry_after") if exponential else ("deadline", "retry_after")
    options: dict[str, float] = {}
    for key, value in ((k.strip(), v.strip()) for k, v in keywords.items()):
        if key not in known:
            raise ConfigError("retry", f"{spec!r}: unknown key {key!r}", f"use {', '.join(known)}")
        if key == "retry_after":
            if value.lower() not in _YES + _NO:
                raise ConfigError("retry", f"{spec!r}: retry_after={value!r}", "give retry_after=yes or no")
            options[key] = float(value.lower() in _YES)
        elif key == "jitter":
            options[key] = _number(value, "jitter", spec, 0)
            if options[key] > 1:
                raise ConfigError("retry", f"{spec!r}: jitter {value} is above 1", "give a jitter in [0, 1]")
        else:
            options[key] = _number(value, "deadline", spec, 0)
    return options


def default_retry(kind: str) -> str:
    return DEFAULT_RETRY.get(kind, "none")


def _off_default(kind: str, heartbeat_s: float, retry: str | None,
                 rate_limit: float) -> tuple[float, RetrySpec | None, float]:
    """The policies not at their defaults: the heartbeat (0: none), the retry spec (None: the
    kind's own) and the rate limit (0: none)."""
    spec = None if retry is None else parse_retry(retry)
    if spec is not None and spec.text == parse_retry(default_retry(kind)).text:
        spec = None
    return heartbeat_s, spec, rate_limit


def policy_suffix(kind: str, heartbeat_s: float = 0.0, retry: str | None = None, rate_limit: float = 0.0) -> str:
    """The part of a case id that names the policies not at their defaults ("" when all are)."""
    heartbeat, spec, rate = _off_default(kind, heartbeat_s, retry, rate_limit)
    parts = [f"hb{_num(heartbeat)}" if heartbeat else "", f"retry-{spec.token}" if spec else "",
             f"rate{_num(rate)}" if rate else ""]
    return "".join(f"-{part}" for part in parts if part)


def policy_label(kind: str, heartbeat_s: float = 0.0, retry: str | None = None, rate_limit: float = 0.0) -> str:
    """The policies not at their defaults, for tables and legends ("" when all are):
    ``heartbeat 10 s, retry exponential(5, 1, 30), 2 starts/s``."""
    heartbeat, spec, rate = _off_default(kind, heartbeat_s, retry, rate_limit)
    parts = [f"heartbeat {_num(heartbeat)} s" if heartbeat else "", f"retry {spec.text}" if spec else "",
             f"{_num(rate)} starts/s" if rate else ""]
    return ", ".join(part for part in parts if part)
