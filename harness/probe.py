"""Before a run against ``--target``: is anything there, and does it take our credentials?

A run against a server that cannot be reached, or that refuses the credentials, would end with
every file failed in a fraction of a second and a makespan that means nothing. So the target is
asked once, for the persona list (a cheap call every run makes), before any file is attempted,
and a failure is one line naming the cause and the fix.
"""

from __future__ import annotations

import httpx

from harness.transports import Credentials
from mock_onyx.errors import ConfigError

PROBE_TIMEOUT_S = 10.0  # wall seconds: a target this slow to answer one small call is not usable
CREDENTIALS_FIX = "set ONYX_API_KEY (an API key) or ONYX_SESSION_COOKIE (a fastapiusersauth cookie)"


def check_target_url(url: str) -> str:
    """The URL, if it can name a server: http(s) with a host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ConfigError("--target", f"{url!r} is not a URL ({error})",
                          "give one such as http://127.0.0.1:8080") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError("--target", f"{url!r} is not an http(s) URL with a host",
                          "give one such as http://127.0.0.1:8080")
    return url.rstrip("/")


async def probe_target(url: str, credentials: Credentials) -> None:
    """Raise ``ConfigError`` unless ``url`` answers the persona list with these credentials."""
    base = check_target_url(url)
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, headers=credentials.headers(),
                                 cookies=credentials.cookies()) as client:
        try:
            response = await client.get(f"{base}/persona")
        except httpx.TimeoutException:
            raise ConfigError("--target", f"{base} did not answer within {PROBE_TIMEOUT_S:g} s",
                              "check that the server is up and the URL is right") from None
        except httpx.HTTPError as error:
            raise ConfigError("--target", f"cannot reach {base} ({type(error).__name__}: {error})",
                              "start the server (onyx-bench serve), or check the URL") from None
    if response.status_code in (401, 403):
        given = ("the credentials given" if credentials.api_key or credentials.session_cookie
                 else "requests without credentials")
        raise ConfigError("--target", f"{base} refuses {given} (HTTP {response.status_code})", CREDENTIALS_FIX)
    if response.status_code == 404:
        raise ConfigError("--target", f"{base} has no Onyx API at /persona (HTTP 404)",
                          "give the Onyx API's base URL (often ending in /api)")
