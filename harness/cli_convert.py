"""The ``convert`` command of the CLI: results of format 1 rewritten in the current format (thin)."""

from __future__ import annotations

from pathlib import Path

import click

RESULTS_FIX = "give a directory written by onyx-bench sweep, reproduce or tune"


@click.command()
@click.argument("results", type=click.Path(path_type=Path, file_okay=False))
def convert(results: Path) -> None:
    """Rewrite RESULTS, a results directory of format 1 (a folder per case with CSV files), in the
    current format (Parquet chunks), in place; and every results directory inside it (reproduce's
    cross-check, a tune's rounds). Each is switched over by one atomic step: cut short, it is left
    in one format or the other, never between, and running this again finishes it."""
    from harness.store import MANIFEST, convert as convert_results
    from mock_onyx.errors import ConfigError

    if not results.is_dir():
        raise ConfigError(str(results), "does not exist", RESULTS_FIX)
    if not (results / MANIFEST).is_file() and not any(results.glob(f"*/{MANIFEST}")):
        raise ConfigError(str(results), f"is not a results directory (no {MANIFEST})", RESULTS_FIX)
    converted = convert_results(results)
    if not converted:
        click.echo(f"{results}: already in the current format, nothing to convert")
    for folder, cases in converted.items():
        click.echo(f"converted {folder}: {cases} cases")
