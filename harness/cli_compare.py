"""The ``compare`` command of the CLI: two results directories side by side (thin: read, compare, print)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the command imports these (pandas, the reports) in its body
    import pandas as pd

RESULTS_FIX = "give a directory written by onyx-bench sweep or reproduce (its --out)"


def _alpha_in_range(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A significance level is a number strictly between 0 and 1 (click's FloatRange lets nan by)."""
    if not 0 < value < 1:  # false for nan too
        raise click.BadParameter(f"{value!r} is not a number above 0 and below 1 (0.05 is the default)")
    return value


@click.command()
@click.argument("a", type=click.Path(path_type=Path, file_okay=False))
@click.argument("b", type=click.Path(path_type=Path, file_okay=False))
@click.option("--alpha", type=float, default=0.05, callback=_alpha_in_range, show_default=True,
              help="Significance level of the tests (and 1 - the confidence of the intervals shown).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"a": A, "b": B, "alpha": ALPHA, "conclusion": LINE, "rows": [...]} instead '
                   "of the table.")
def compare(a: Path, b: Path, alpha: float, as_json: bool) -> None:
    """Compare results directory B with A, per case: the difference of the mean makespans (B - A),
    its confidence interval, and whether it is significant. Paired by seed where both ran the
    same seeds (a t-test on the per-seed differences), else Welch's t-test."""
    from mock_onyx.errors import ConfigError
    from reports.compare import compare_frame, compare_json, compare_runs, conclusion
    from reports.seed_table import frame_to_markdown

    rows = compare_runs(_finished_runs(a), _finished_runs(b), alpha)
    if not any(row.test is not None for row in rows):
        raise ConfigError(f"{a} and {b}", "have no case in common (files, folders, strategy and size)",
                          "compare results of the same grid, e.g. one scenario swept twice with a change")
    line = conclusion(rows, alpha)
    if as_json:
        click.echo(json.dumps({"a": str(a), "b": str(b), "alpha": alpha, "conclusion": line,
                               "rows": compare_json(rows)}, indent=2))
        return
    click.echo(f"{line}\n\n{frame_to_markdown(compare_frame(rows, alpha))}")


def _finished_runs(path: Path) -> pd.DataFrame:
    """The finished runs of a results directory, or a one-line error saying why there are none."""
    from harness.store import MANIFEST, load_manifest, load_runs
    from mock_onyx.errors import ConfigError

    if not path.is_dir():
        raise ConfigError(str(path), "does not exist", RESULTS_FIX)
    if not (path / MANIFEST).is_file():
        raise ConfigError(str(path), f"has no {MANIFEST}, so it is not a results directory", RESULTS_FIX)
    try:
        load_manifest(path)
    except (OSError, ValueError) as error:
        raise ConfigError(str(path / MANIFEST), f"cannot be read ({error})", RESULTS_FIX) from None
    runs = load_runs(path)
    if runs.empty:
        raise ConfigError(str(path), "holds no finished case",
                          f"finish its sweep first (onyx-bench sweep SCENARIO --out {path} --resume)")
    return runs
