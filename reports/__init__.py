"""Reports: tables (and later plots) from a results directory. Reads results; runs nothing."""

from reports.seed_table import (
    SEED_TABLE,
    Row,
    markdown_table,
    rows_json,
    seed_table_rows,
)
from reports.stats import mean_ci95

__all__ = ["SEED_TABLE", "Row", "markdown_table", "mean_ci95", "rows_json", "seed_table_rows"]
