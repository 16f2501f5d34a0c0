"""The reliability suite's closing tables (``make reliability``; ``make test`` never collects this
folder): the fault matrix's cells, each checked for the harness's promises (``reliability.matrix``),
counted per fault kind, per strategy and per mode; the interruption matrix's cells
(``reliability.interruptions``), one line each; and any cell that failed a check, named."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reliability import interruptions
from reliability.matrix import CHECKS, ROWS, CellResult


def _line(label: str, rows: list[CellResult]) -> str:
    passed = sum(r.passed.get(name, False) for r in rows for name in CHECKS)
    cells_ok = sum(not r.failures for r in rows)
    ok, failed, skipped = (sum(r.ok for r in rows), sum(r.failed for r in rows), sum(r.skipped for r in rows))
    wall = sum(r.wall_s for r in rows)
    return (f"{label:<14} {len(rows):>5} {cells_ok:>8} {passed:>5}/{len(rows) * len(CHECKS):<5} "
            f"{ok:>5} {failed:>6} {skipped:>7} {wall:>8.2f}")


def _table(write: Callable[[str], None], title: str, key: Callable[[CellResult], str]) -> None:
    write(f"{title:<14} {'cells':>5} {'cells ok':>8} {'checks':>11} {'ok':>5} {'failed':>6} {'skipped':>7} "
          f"{'wall s':>8}")
    for value in dict.fromkeys(key(r) for r in ROWS):
        write(_line(value, [r for r in ROWS if key(r) == value]))


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _interruption_table(terminalreporter)
    if not ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("onyx-bench fault matrix (items: ok / failed / skipped, summed over cells)")
    write(f"checks per cell: {', '.join(CHECKS)}")
    _table(write, "fault kind", lambda r: r.cell.kind)
    write("")
    _table(write, "strategy", lambda r: r.cell.strategy)
    write("")
    _table(write, "retry", lambda r: r.cell.retry)
    write("")
    _table(write, "mode", lambda r: str(r.cell.mode))
    write("")
    write(_line("all", ROWS))
    counts = {(r.cell.kind, r.cell.strategy, r.cell.retry, str(r.cell.mode)): (r.ok, r.failed, r.skipped)
              for r in ROWS}
    pairs = {k[:3]: (v, counts[(*k[:3], "real")]) for k, v in counts.items()
             if k[3] == "virtual" and (*k[:3], "real") in counts}
    differ = {k: p for k, p in pairs.items() if p[0] != p[1]}
    write(f"cells whose ok/failed/skipped are the same in both modes (same seed): "
          f"{len(pairs) - len(differ)}/{len(pairs)} (printed, not asserted: real mode's timing is the machine's)")
    for key, (virtual, real) in differ.items():
        write(f"  {'-'.join(key)}: virtual {virtual}, real {real}")
    for row in ROWS:
        if row.failures:
            write(f"FAILED {row.cell.id}: {'; '.join(row.failures)}")


def _interruption_table(terminalreporter: pytest.TerminalReporter) -> None:
    rows = interruptions.ROWS
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("onyx-bench interruptions (a sweep signalled once KEEP cases were on disk, then --resume)")
    write(f"checks per cell: {', '.join(interruptions.CHECKS)}; KEEP = {interruptions.KEEP}")
    write(f"{'signal':<8} {'mode':<8} {'executor':<8} {'kept':>9} {'exit':>5} {'exit s':>7} {'resume ran':>10} "
          f"{'resume s':>8} {'checks':>7}")
    for row in rows:
        cell = row.cell
        passed = sum(row.passed.get(name, False) for name in interruptions.CHECKS)
        write(f"{cell.signal:<8} {cell.mode:<8} {cell.executor:<8} {f'{row.kept}/{row.total}':>9} "
              f"{row.exit_status!s:>5} {row.exit_s:>7.2f} {row.resumed_ran:>10} {row.resume_s:>8.2f} "
              f"{passed:>3}/{len(interruptions.CHECKS)}")
    passed = sum(row.passed.get(name, False) for row in rows for name in interruptions.CHECKS)
    write(f"all: {sum(not row.failures for row in rows)}/{len(rows)} cells, {passed}/{len(rows) * len(interruptions.CHECKS)} checks")
    for row in rows:
        if row.failures:
            write(f"FAILED {row.cell.id}: {'; '.join(row.failures)}")
