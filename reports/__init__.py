"""Reports: tables (and later plots) from a results directory. Reads results; runs nothing.

The names below are imported on first use (PEP 562), so importing one submodule (``reports.formats``)
does not import pandas.
"""

from typing import TYPE_CHECKING

from mock_onyx.lazy import lazy_exports

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
__getattr__, __dir__ = lazy_exports(__name__, globals(), _SUBMODULES)
