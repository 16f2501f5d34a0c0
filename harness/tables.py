"""Short human-readable tables of a run, for the terminal."""

from __future__ import annotations

from harness.results import RunResult, RunSummary


def summary_lines(result: RunResult) -> list[str]:
    s = result.summary
    strategy = s.strategy if s.size is None else f"{s.strategy} (size {s.size})"
    expected = "" if s.expected_makespan_s is None else f" (closed form {s.expected_makespan_s:.1f} s)"
    lines = [
        f"{strategy}: {s.n_files} files, {s.n_folders} folders, seed {s.seed}, time scale {s.time_scale:g},"
        f" transport {s.transport}",
        f"makespan          {s.makespan_s:8.1f} s{expected}",
        f"ok/failed/skipped {s.files_ok}/{s.files_failed}/{s.files_skipped}",
        f"max progress gap  {s.max_progress_gap_s:8.1f} s{_idle_timeout(s)}",
        f"policies          retry {s.retry}, heartbeat {f'{s.heartbeat_s:g} s' if s.heartbeat_s else 'none'}, "
        f"rate limit {f'{s.rate_limit:g} starts/s' if s.rate_limit else 'none'}",
        _overhead_line(s),
        f"peak in flight    server {s.server_peak_inflight if s.server_peak_inflight is not None else '-'},"
        f" client {s.client_peak_inflight}",
        *_capacity_lines(s),
        *([] if s.peak_limit is None else [f"adaptive limit    peak {s.peak_limit}, final {s.final_limit} (events of kind limit)"]),
        "",
        f"{'item':>12} {'status':>8} {'error':>13} {'attempts':>8} {'start_s':>8} {'end_s':>8}",
    ]
    for o in result.outcomes:
        lines.append(f"{o.item.label:>12} {o.status:>8} {o.error_kind or '-':>13} {o.attempts:>8}"
                     f" {o.start_s:8.1f} {o.end_s:8.1f}")
    return lines


def _idle_timeout(s: RunSummary) -> str:
    if s.idle_timeout_s is None:
        return ""
    if s.dropped_at_s is None:
        return f" (the frontend's {s.idle_timeout_s:g} s idle timeout never ran out)"
    return (f" (DROPPED: the frontend gave up at {s.dropped_at_s:.1f} s, after {s.idle_timeout_s:g} s "
            f"without progress; unfinished items failed as dropped)")


def _overhead_line(s: RunSummary) -> str:
    if s.harness_overhead_s is None or s.model_makespan_s is None:
        return "harness overhead         - (no model of this target to compare with)"
    return (f"harness overhead  {s.harness_overhead_s:8.1f} s ({s.harness_overhead_pct:.1f}% over the"
            f" model's {s.model_makespan_s:.1f} s for these draws)")


def _capacity_lines(s: RunSummary) -> list[str]:
    """What the server's capacity did to the run (``mock_onyx.capacity``), if anything."""
    if not (s.server_crashes or s.cut_by_crash or s.queue_waits or s.refused_connections):
        return []
    return [f"server capacity   {s.server_crashes or 0} crashes, {s.cut_by_crash or 0} requests cut,"
            f" {s.refused_connections} calls refused, {s.queue_waits or 0} waits for a worker"
            f" ({s.queue_wait_s or 0.0:.1f} s in all)"]
