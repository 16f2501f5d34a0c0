"""Reports: tables (and later plots) from a results directory. Reads results; runs nothing.

The names below are imported on first use (PEP 562), so importing one submodule (``reports.formats``)
does not import pandas.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reports.seed_table import (
        SEED_TABLE,
        Row,
        markdown_table,
        rows_json,
        seed_table_rows,
    )
    from reports.stats import mean_ci95

__all__ = ["SEED_TABLE", "Row", "markdown_table", "mean_ci95", "rows_json", "seed_table_rows"]

_SUBMODULES = {
    "seed_table": ("SEED_TABLE", "Row", "markdown_table", "rows_json", "seed_table_rows"),
    "stats": ("mean_ci95",),
}
_HOME = {name: f"{__name__}.{module}" for module, names in _SUBMODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
