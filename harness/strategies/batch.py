"""The seed's "after": files in fixed batches through ``asyncio.gather(..., return_exceptions=True)``,
a pause between batches, then all folders at once. Each batch waits for its slowest file.

With ``heartbeat_s`` the batch is awaited as production's was after the frontend gave up on its
silences (``shared/production-history.md``): ``asyncio.wait(pending, timeout=heartbeat_s,
return_when=FIRST_COMPLETED)`` in a loop, and a progress message whenever tasks are still pending,
so at most ``heartbeat_s`` passes between messages; results keep their order through a
task-to-item map. The timeout is simulated seconds turned into the loop's by the run's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.outcomes import ItemKind, ItemOutcome, WorkItem
from harness.progress import EventKind
from harness.strategies.base import RunContext
from harness.strategies.retry import RetryPolicy


@dataclass(frozen=True)
class Batch:
    size: int = 8
    pause_s: float = 0.5
    retry: RetryPolicy = RetryPolicy()
    heartbeat_s: float = 0.0
    rate_limit: float = 0.0
    name: str = "batch"

    async def run(self, items: Sequence[WorkItem], ctx: RunContext) -> list[ItemOutcome]:
        outcomes: dict[int, ItemOutcome] = {}
        files = [(i, item) for i, item in enumerate(items) if item.kind is ItemKind.FILE]
        folders = [(i, item) for i, item in enumerate(items) if item.kind is ItemKind.FOLDER]
        batches = [files[start:start + self.size] for start in range(0, len(files), self.size)]
        for number, batch in enumerate(batches, start=1):
            first = batch[0][0] + 1
            ctx.emit(EventKind.BATCH_START, f"Processing batch {number}/{len(batches)}: "
                                            f"files {first} to {first + len(batch) - 1}")
            outcomes.update(await self._gather(batch, ctx, f"Processing batch {number}/{len(batches)}", "files"))
            ctx.emit(EventKind.BATCH_END, f"Completed batch {number}/{len(batches)}")
            if number < len(batches):
                await ctx.sleep(self.pause_s)
        if folders:
            ctx.emit(EventKind.BATCH_START, f"Processing {len(folders)} folders")
            outcomes.update(await self._gather(folders, ctx, f"Processing {len(folders)} folders", "folders"))
            ctx.emit(EventKind.BATCH_END, f"Completed {len(folders)} folders")
        return [outcomes[i] for i in range(len(items))]

    async def _gather(self, batch: list[tuple[int, WorkItem]], ctx: RunContext,
                      what: str, noun: str) -> dict[int, ItemOutcome]:
        if self.heartbeat_s:
            return await self._wait_with_heartbeats(batch, ctx, what, noun)
        results = await asyncio.gather(*(self.retry.run(item, ctx) for _, item in batch),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation, not a file's failure
        return {index: result for (index, _), result in zip(batch, results, strict=True)
                if isinstance(result, ItemOutcome)}

    async def _wait_with_heartbeats(self, batch: list[tuple[int, WorkItem]], ctx: RunContext,
                                    what: str, noun: str) -> dict[int, ItemOutcome]:
        tasks = {asyncio.create_task(self.retry.run(item, ctx)): index for index, item in batch}
        started, pending = ctx.now(), set(tasks)
        try:
            while pending:
                _, pending = await asyncio.wait(pending, timeout=ctx.clock.to_wall(self.heartbeat_s),
                                                return_when=asyncio.FIRST_COMPLETED)
                if pending:
                    ctx.emit(EventKind.HEARTBEAT, f"{what}... ({ctx.now() - started:.0f}s elapsed, "
                                                  f"{len(tasks) - len(pending)}/{len(tasks)} {noun} done)")
        finally:  # cancelled (the run dropped): no task outlives the batch
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        return {index: task.result() for task, index in tasks.items()}

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        batches = [durations[i:i + self.size] for i in range(0, len(durations), self.size)]
        return sum(max(batch) for batch in batches) + self.pause_s * max(0, len(batches) - 1)

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        sizes = [min(self.size, n_files - start) for start in range(0, n_files, self.size)]
        return sum(expected_max_s(k) for k in sizes) + self.pause_s * max(0, len(sizes) - 1)
