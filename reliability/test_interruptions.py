"""SIGINT, SIGTERM and SIGKILL during a sweep x both modes x both executors, then ``--resume``
(``reliability.interruptions``: what each cell checks). ``make reliability`` ends with the matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.interruptions import CELLS, CHECKS, SCENARIOS, Cell, reference, run_cell


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each mode's uninterrupted sweep (the local pool), made once."""
    return {mode: reference(tmp_path_factory.mktemp(f"straight-{mode}"), mode) for mode in SCENARIOS}


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_an_interrupted_sweep_resumes_to_the_uninterrupted_results(
        cell: Cell, straight: dict[str, Path], tmp_path: Path) -> None:
    row = run_cell(cell, tmp_path, straight[cell.mode])
    assert not row.failures, "\n".join(row.failures)
    assert set(row.passed) == set(CHECKS) and all(row.passed.values())
