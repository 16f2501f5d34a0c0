"""Lazy public faces: a package re-exports names from its submodules, imported on first use
(PEP 562), so that importing one light submodule (the CLI, the errors) does not import them all.

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {"runner": ("RunConfig", ...)})

The one copy every package's ``__init__`` uses; it lives here because ``mock_onyx`` is the one
package every other may import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], submodules: dict[str, tuple[str, ...]],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``submodules[module]`` is
    imported from ``package.module`` when first asked for, then kept in ``namespace``."""
    home = {name: f"{package}.{module}" for module, names in submodules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return __getattr__, __dir__
