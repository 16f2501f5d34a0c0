"""Credentials for a real Onyx: where they come from, and how they are kept out of every output.

They come from the environment (``ONYX_API_KEY``, ``ONYX_SESSION_COOKIE``) or from a file named by
``--credentials-file``, never from a command-line value (shells, process lists and the recorded
command line keep those). ``Credentials`` (``harness.transports``) hide their values from
``repr``; every value loaded or set in the environment is known to ``redact``, which the CLI
applies to every message it prints and the runner and the sweep to every reason and traceback
they store, so an error that quotes a header (an HTTP library's "invalid header value ...", a
server echoing a token) cannot carry one out. A value that no header could carry is refused on
loading, naming the variable, never quoting the value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from mock_onyx.errors import ConfigError

if TYPE_CHECKING:
    from harness.transports import Credentials

API_KEY_VARIABLE = "ONYX_API_KEY"
SESSION_COOKIE_VARIABLE = "ONYX_SESSION_COOKIE"
CREDENTIAL_NAMES = (API_KEY_VARIABLE, SESSION_COOKIE_VARIABLE)
CREDENTIALS_FIX = (f"set {API_KEY_VARIABLE} (an API key) or {SESSION_COOKIE_VARIABLE} (a fastapiusersauth "
                   f"cookie) in the environment, or name a file of them with --credentials-file")
REDACTED = "[redacted]"
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")  # what an HTTP header or cookie value may hold unquoted
_VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_loaded_secrets: set[str] = set()  # every credential value this process has loaded (``redact``)


def load_credentials(credentials_file: Path | None) -> Credentials:
    """The credentials to send: from the environment, or from ``credentials_file``.

    The file holds ``NAME=VALUE`` lines (``ONYX_API_KEY``, ``ONYX_SESSION_COOKIE``; blank lines,
    ``#`` comments, an ``export`` prefix and quotes allowed), so it can be the same file a shell
    sources. A file given while the environment also holds a credential is refused: sending one of
    them would be a guess, and the likely one (an exported production key) the wrong one. None at
    all is allowed here (a server may not ask); ``resolve_target`` says so if it does."""
    from harness.transports import Credentials

    environment = {name: os.environ.get(name) or None for name in CREDENTIAL_NAMES}
    if credentials_file is None:
        values = environment
        where = "the environment variable {}"
    else:
        if any(environment.values()):
            names = " and ".join(name for name, value in environment.items() if value)
            raise ConfigError("--credentials-file", f"the environment already sets {names}: one source of "
                              "credentials at a time", f"unset {names}, or drop --credentials-file")
        values = _read_credentials_file(credentials_file)
        where = f"{{}} in {credentials_file}"
    for name, value in values.items():
        if value is not None and not _VISIBLE_ASCII.fullmatch(value):
            raise ConfigError(where.format(name), "holds spaces, quotes left open or control characters, "
                              "which no HTTP header may carry", "give the key or cookie value alone")
    credentials = Credentials(api_key=values[API_KEY_VARIABLE], session_cookie=values[SESSION_COOKIE_VARIABLE])
    _loaded_secrets.update(value for value in values.values() if value)
    return credentials


def _read_credentials_file(path: Path) -> dict[str, str | None]:
    where = f"--credentials-file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ConfigError(where, f"cannot read it ({reason})", "give a readable file of NAME=VALUE lines") from None
    values: dict[str, str | None] = dict.fromkeys(CREDENTIAL_NAMES)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        # A line is never quoted back: it may be a secret written without its name.
        if not equals or name not in CREDENTIAL_NAMES:
            shown = f" ({name})" if equals and _VARIABLE_NAME.fullmatch(name) else ""
            raise ConfigError(where, f"line {number} is not {API_KEY_VARIABLE}=... or "
                              f"{SESSION_COOKIE_VARIABLE}=...{shown}", "write one NAME=VALUE per line")
        if values[name] is not None:
            raise ConfigError(where, f"line {number} sets {name} again", "keep one line per name")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value or None
    if not any(values.values()):
        raise ConfigError(where, f"sets neither {API_KEY_VARIABLE} nor {SESSION_COOKIE_VARIABLE}",
                          f"add a line such as {API_KEY_VARIABLE}=on_...")
    return values


def redact(text: str) -> str:
    """``text`` with every credential value this process knows (loaded, or set in its
    environment) replaced by ``[redacted]``, also where it appears URL-quoted."""
    from urllib.parse import quote

    secrets = _loaded_secrets | {value for name in CREDENTIAL_NAMES if (value := os.environ.get(name))}
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return text
