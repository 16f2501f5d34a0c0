"""A running server as the target of ``run``, ``sweep``, ``tune`` and ``calibrate``: safely.

A target is a URL: a mock started apart (``onyx-bench serve``) or someone's real Onyx, whose chats
cost money and load a server other people use. So, before any file is attempted:

    load_credentials(FILE)     ONYX_API_KEY / ONYX_SESSION_COOKIE from the environment, or from the
                               file named by ``--credentials-file`` (never a command-line value)
    resolve_target(URL, cred)  the URL checked, the API found (the bare API server, or ``/api``
                               behind Onyx's web proxy), the credentials tried on the persona list,
                               and a mock told from a real Onyx: a ``ResolvedTarget``
    confirm_send_messages(...) more than ``CONFIRM_ABOVE`` chats against a real Onyx are stated
                               (count, wall time) and asked about; ``--yes`` answers; no terminal
                               and no ``--yes``: refused, never assumed
    target_options             the click flags: --target, --credentials-file, --yes, --dry-run,
                               --max-in-flight, --max-calls (``harness.call_plan`` enforces the caps)

Against a real Onyx the time scale is 1, whatever any profile says: its seconds are wall seconds.

Secrets (``harness.credentials``, whose ``load_credentials`` and ``redact`` are re-exported here):
never printed, logged, or written into results, manifests, reports, recorded command lines or
exception messages; ``redact`` is the safeguard where a header or a server's words could reach one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.credentials import (
    API_KEY_VARIABLE,
    CREDENTIALS_FIX,
    SESSION_COOKIE_VARIABLE,
    load_credentials,
    redact,
)
from mock_onyx.errors import ConfigError

__all__ = ["API_KEY_VARIABLE", "CONFIRM_ABOVE", "DEFAULT_MAX_CALLS", "DEFAULT_MAX_IN_FLIGHT",
           "SESSION_COOKIE_VARIABLE", "ResolvedTarget", "TargetSession", "check_target_url",
           "confirm_send_messages", "load_credentials", "redact", "resolve_target", "target_options"]

if TYPE_CHECKING:
    import httpx

    from harness.transports import Credentials
    from mock_onyx.profile import Profile

# More send-message calls than this against a real Onyx are stated and asked about first: a few
# chats are a smoke test; more cost real money and load a server that others use.
CONFIRM_ABOVE = 10
# At most this many files in flight against a target. Onyx's chat route runs in a pool of 40
# threads (and 40 + 10 database sessions), each stream holding one for its whole length: 16 is the
# largest size ``tune`` explores and adaptive's default ceiling, and leaves 24 threads to everyone
# else. Production's own server crashed at its 7th chat; ``--max-in-flight`` lowers it.
DEFAULT_MAX_IN_FLIGHT = 16
# At most this many HTTP calls per run: a healthy file takes 4 (and the persona list once), so 1000
# is 200 files of headroom, while a run retrying against a failing server (up to 7 calls per
# attempt) is stopped before it turns a small study into thousands of requests.
DEFAULT_MAX_CALLS = 1000
PROBE_TIMEOUT_S = 10.0  # wall seconds: a target this slow to answer one small call is not usable
API_PREFIX = "/api"


def check_target_url(url: str) -> str:
    """``url`` without a trailing slash, if it can name an API: http(s), a host, and no user,
    password, query or fragment (credentials go in the environment, never on a command line,
    where shells, process lists and the recorded command line would keep them)."""
    import httpx

    where = "--target"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:  # quoted back only when it cannot hold a user or password
        problem = "the value given is not a URL" if "@" in url else f"{url!r} is not a URL ({error})"
        raise ConfigError(where, problem, "give one such as http://127.0.0.1:8080") from None
    if parsed.userinfo:
        raise ConfigError(where, "the URL holds a user or password (user:...@host), and credentials are never "
                          "taken from the command line", f"drop it from the URL; {CREDENTIALS_FIX}")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(where, f"{url!r} is not an http(s) URL with a host", "give one such as http://127.0.0.1:8080")
    if parsed.query or parsed.fragment:
        raise ConfigError(where, "the URL has a query or fragment (?... or #...), which an API base never has "
                          "(and a token in it would be recorded)", "give the base URL alone")
    return url.rstrip("/")


@dataclass(frozen=True)
class ResolvedTarget:
    """A target, checked: where its API answers, and what it is."""

    url: str  # the API's base: the bare API server's URL, or the proxy's URL with /api
    is_mock: bool  # an onyx-bench mock (it serves /_mock/profile); else treated as a real Onyx
    profile: Profile | None  # the mock's profile; None for a real Onyx
    time_scale: float  # the mock's; 1.0 for a real Onyx, whatever any profile says

    @property
    def root(self) -> str:
        """The server's own root: where a mock serves ``/_mock/*`` (beside ``/api``)."""
        return self.url.removesuffix(API_PREFIX)

    def describe(self) -> str:
        """One line for the output: what the target is, and which clock its runs are on."""
        if self.is_mock:
            return (f"target {self.url}: an onyx-bench mock; its own profile applies, at its time scale "
                    f"{self.time_scale:g}")
        return (f"target {self.url}: a real Onyx (it serves no /_mock/profile): real time, time scale 1 "
                f"whatever any profile says")


async def resolve_target(url: str, credentials: Credentials, allow_files: bool = False) -> ResolvedTarget:
    """Check ``url``, find its API, try ``credentials`` on it and tell a mock from a real Onyx;
    every failure is a ``ConfigError`` of one line (unreachable, too slow, credentials refused with
    or without any, no Onyx API there), before any file is attempted.

    The API is looked for at ``URL/persona``, then at ``URL/api/persona`` (a URL that already ends
    in /api is taken as given): the API server answers the bare paths, and Onyx's nginx sends
    ``/api/*`` to it and everything else to the web app, which answers ``/persona`` with a page (or
    a redirect to its login), never with the JSON list the API gives. A 401 or 403 with a JSON body
    is the API refusing the credentials. Redirects are not followed, so credentials are never sent
    to a host that was not named. ``/_mock/profile`` is then asked without credentials: a server
    that answers it with a valid profile is a mock; anything else is treated as a real Onyx. A
    profile naming a file (``empirical(path)``: a path on the server, not ours to open) is refused
    in one line, nothing opened, unless ``allow_files`` (the user's ``--allow-outside-paths``)."""
    import httpx

    base = check_target_url(url)
    candidates = [base] if base.endswith(API_PREFIX) else [base, base + API_PREFIX]
    refusals: list[str] = []
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, headers=credentials.headers(),
                                 cookies=credentials.cookies(), follow_redirects=False) as client:
        for api in candidates:
            response = await _get(client, f"{api}/persona", base)
            if response.status_code in (401, 403) and _is_json(response):
                raise _refused(api, response, credentials)
            if response.is_success and _is_json(response) and isinstance(_json(response), list):
                profile = await _mock_profile(api.removesuffix(API_PREFIX), allow_files)
                return ResolvedTarget(api, profile is not None, profile,
                                      profile.time_scale if profile is not None else 1.0)
            refusals.append(f"{api}/persona: HTTP {response.status_code}"
                            f"{'' if _is_json(response) else ' ' + _content_type(response)}")
    raise ConfigError("--target", f"no Onyx API there ({'; '.join(refusals)})",
                      "give the URL of Onyx's API server, or of its web proxy (its API is under /api)")


async def _get(client: httpx.AsyncClient, url: str, base: str) -> httpx.Response:
    import httpx

    try:
        return await client.get(url)
    except httpx.TimeoutException:
        raise ConfigError("--target", f"{base} did not answer within {PROBE_TIMEOUT_S:g} s",
                          "check that the server is up and the URL is right") from None
    except httpx.HTTPError as error:
        raise ConfigError("--target", f"cannot reach {base} ({type(error).__name__}: {redact(str(error))})",
                          "start the server (onyx-bench serve), or check the URL") from None


def _refused(api: str, response: httpx.Response, credentials: Credentials) -> ConfigError:
    sent = [name for name, value in ((API_KEY_VARIABLE, credentials.api_key),
                                     (SESSION_COOKIE_VARIABLE, credentials.session_cookie)) if value]
    given = f"the credentials given ({' and '.join(sent)})" if sent else "requests without credentials"
    detail = _json(response)
    said = detail.get("detail") if isinstance(detail, dict) else None
    said_text = f": {redact(str(said))[:120]}" if said else ""
    fix = ("check that the key or cookie is valid on this server (a wrong or expired one is refused alike)"
           if sent else CREDENTIALS_FIX)
    return ConfigError("--target", f"{api} refuses {given} (HTTP {response.status_code}{said_text})", fix)


async def _mock_profile(root: str, allow_files: bool) -> Profile | None:
    import httpx
    from pydantic import ValidationError

    from mock_onyx.distributions import ServerFileRefused
    from mock_onyx.profile import profile_from_server

    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as client:
        try:
            response = await client.get(f"{root}/_mock/profile")
        except httpx.HTTPError:
            return None
    document = _json(response) if response.status_code == 200 else None
    if not isinstance(document, dict):
        return None
    try:
        return profile_from_server(document, f"{root}/_mock/profile", allow_files)
    except ServerFileRefused:
        raise  # a mock naming a file: refused, not taken for a real Onyx that would run anyway
    except (ConfigError, ValidationError):  # not ours after all: treated as real (the careful side)
        return None


def _is_json(response: httpx.Response) -> bool:
    return _content_type(response).startswith("application/json")


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "no content type").split(";")[0].strip()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def stdin_is_terminal() -> bool:
    """Whether a question can be asked (a seam for the tests)."""
    return sys.stdin.isatty()


def confirm_send_messages(target: ResolvedTarget, send_messages: int, wall_s: float | None, *, yes: bool) -> None:
    """Ask before more than ``CONFIRM_ABOVE`` send-message calls against a target that is not a
    mock: the count and the wall time to expect go to stderr, then the question (on a terminal).
    ``yes`` answers it. With no terminal and no ``yes`` it refuses (``ConfigError``, exit 2) rather
    than assume either answer; declining is exit 1. Either way, nothing has been sent or written."""
    from harness.cli_progress import about

    if target.is_mock or send_messages <= CONFIRM_ABOVE:
        return
    wall = "wall time unknown" if wall_s is None else f"{about(wall_s)} of wall time"
    click.echo(f"{send_messages} send-message calls (each an LLM answer) against {target.url}, a real "
               f"Onyx: {wall}", err=True)
    if yes:
        return
    if not stdin_is_terminal():
        raise ConfigError("--yes", f"{send_messages} send-message calls against a real Onyx need a yes, and "
                          "there is no terminal to ask", "add --yes to send them, or --dry-run to see them first")
    if not click.confirm("Send them?", default=False, err=True):
        raise click.ClickException("declined: nothing was sent and nothing written")


_F = TypeVar("_F", bound=Callable[..., Any])


def target_options(f: _F) -> _F:
    """The flags of a command that can run against a target; the command receives them as
    ``target``, ``credentials_file``, ``yes``, ``dry_run``, ``max_in_flight`` and ``max_calls``."""
    options = [
        click.option("--target", metavar="URL",
                     help="A running server instead of the embedded mock: onyx-bench serve, or a real Onyx (its "
                          "API server, or its web proxy: /api is found). Credentials from ONYX_API_KEY or "
                          "ONYX_SESSION_COOKIE, or --credentials-file; never on the command line."),
        click.option("--credentials-file", type=click.Path(path_type=Path, dir_okay=False),
                     help="A file of ONYX_API_KEY=... and/or ONYX_SESSION_COOKIE=... lines, instead of the "
                          "environment."),
        click.option("--yes", is_flag=True,
                     help=f"Send more than {CONFIRM_ABOVE} send-message calls to a real Onyx without asking "
                          f"(without a terminal, the run refuses unless given)."),
        click.option("--dry-run", is_flag=True,
                     help="Print the calls a --target run would make (per file, counts, wall time) and make none."),
        click.option("--max-in-flight", type=click.IntRange(1, 10_000), default=DEFAULT_MAX_IN_FLIGHT,
                     show_default=True, metavar="N",
                     help="Against a --target: at most N files in flight (a larger size is refused before "
                          "any call)."),
        click.option("--max-calls", type=click.IntRange(1, 10_000_000), default=DEFAULT_MAX_CALLS,
                     show_default=True, metavar="N",
                     help="Against a --target: at most N HTTP calls per run (one planned to make more is "
                          "refused; retries past it are not sent)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True)
class TargetSession:
    """What a run against a target needs: where (resolved), with what, within which caps."""

    target: ResolvedTarget
    credentials: Credentials = field(repr=False)
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    max_calls: int = DEFAULT_MAX_CALLS
