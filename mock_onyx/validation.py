"""Pydantic validation errors as onyx-bench's one-line ``ConfigError``: where, what, and the fix."""

from __future__ import annotations

from pydantic import ValidationError

from mock_onyx.errors import ConfigError

_FIXES = {
    "extra_forbidden": "remove the key or correct its spelling",
    "literal_error": "use one of the names listed",
    "float_type": "give a number",
    "finite_number": "give a finite number",
    "int_type": "give a whole number",
    "string_type": "give a string in quotes",
    "list_type": "give a list, e.g. [1, 2]",
    "bool_type": "give true or false",
    "less_than_equal": "give a smaller value",
    "greater_than_equal": "give a larger value",
    "greater_than": "give a larger value",
    "too_short": "give at least one value",
    "dict_type": "give a TOML table",
    "model_type": "give a TOML table",
    "missing": "add it",
}


def one_line_error(error: ValidationError, source: str, help_topic: str) -> ConfigError:
    """The first problem of ``error``, located in ``source``; ``help_topic`` says where to read more."""
    first = error.errors()[0]
    # Union and constraint tags ("constrained-int", "literal[...]") are not keys the user wrote.
    path = [str(part) for part in first["loc"] if "[" not in str(part) and "-" not in str(part)]
    where = f"{source}: " + ".".join(path)
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):
        return ConfigError(f"{source}: {inner.where}", inner.problem, inner.fix)
    value = first.get("input")
    problem = first["msg"] if first["type"] == "missing" else f"{value!r}: {first['msg']}"
    fix = _FIXES.get(first["type"], "correct the value")
    return ConfigError(where, problem, f"{fix} (see {help_topic})")
