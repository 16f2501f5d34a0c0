"""The fault matrix's virtual-mode cells (exact, about 10 ms each), run by the suite; ``make
reliability`` runs the whole matrix, sockets included. And a check that the matrix's checks see
what they look for: a run that leaves a task behind, a socket unclosed and two fds open fails them."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest

import reliability.matrix
from harness.runner import Mode
from reliability.matrix import FILES, Cell, cells, run_cell


@pytest.mark.parametrize("cell", cells((Mode.VIRTUAL,)), ids=lambda cell: cell.id)
def test_virtual_cell_keeps_every_promise(cell: Cell) -> None:
    result = run_cell(cell)
    assert not result.failures, result.failures
    assert result.ok + result.failed + result.skipped == FILES


def test_the_checks_catch_a_pending_task_an_open_socket_a_leaked_fd_and_an_exception(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_run_once = reliability.matrix.run_once
    leaked: list[Any] = []

    async def leaky_run_once(config: Any) -> Any:
        result = await real_run_once(config)
        leaked.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))
        socket.socket()  # never closed: a ResourceWarning when collected
        leaked.extend(os.pipe())  # kept open past the run
        return result

    monkeypatch.setattr(reliability.matrix, "run_once", leaky_run_once)
    result = run_cell(Cell("http_500", "window", "none", Mode.VIRTUAL))
    for fd in leaked[1:]:
        os.close(fd)
    assert {f.split(":")[0] for f in result.failures} == {"no_pending", "no_warning", "no_fd_leak"}
    assert "ResourceWarning" in result.detail["no_warning"]

    async def raising_run_once(config: Any) -> Any:
        raise RuntimeError("planted")

    monkeypatch.setattr(reliability.matrix, "run_once", raising_run_once)
    result = run_cell(Cell("http_500", "window", "none", Mode.VIRTUAL))
    assert {f.split(":")[0] for f in result.failures} == {"no_exception", "accounted", "deadline"}
    assert "planted" in result.detail["no_exception"]
