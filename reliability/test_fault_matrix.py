"""The fault matrix (issue 16), every cell: every fault kind x every strategy x with and without a
retry policy x both modes (``reliability.matrix``). Each cell asserts all six checks; the closing
table (``reliability/conftest.py``) counts them."""

from __future__ import annotations

import pytest

from reliability.matrix import ROWS, Cell, cells, run_cell


@pytest.mark.parametrize("cell", cells(), ids=lambda cell: cell.id)
def test_cell_keeps_every_promise(cell: Cell) -> None:
    result = run_cell(cell)
    ROWS.append(result)
    assert not result.failures, result.failures
