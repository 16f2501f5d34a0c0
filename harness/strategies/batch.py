"""The seed's "after": files in fixed batches through ``asyncio.gather(..., return_exceptions=True)``,
a pause between batches, then all folders at once. Each batch waits for its slowest file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.outcomes import ItemKind, ItemOutcome, WorkItem
from harness.progress import EventKind
from harness.strategies.base import RetryPolicy, RunContext


@dataclass(frozen=True)
class Batch:
    size: int = 8
    pause_s: float = 0.5
    retry: RetryPolicy = RetryPolicy()
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
            outcomes.update(await self._gather(batch, ctx))
            ctx.emit(EventKind.BATCH_END, f"Completed batch {number}/{len(batches)}")
            if number < len(batches):
                await ctx.sleep(self.pause_s)
        if folders:
            ctx.emit(EventKind.BATCH_START, f"Processing {len(folders)} folders")
            outcomes.update(await self._gather(folders, ctx))
            ctx.emit(EventKind.BATCH_END, f"Completed {len(folders)} folders")
        return [outcomes[i] for i in range(len(items))]

    async def _gather(self, batch: list[tuple[int, WorkItem]], ctx: RunContext) -> dict[int, ItemOutcome]:
        results = await asyncio.gather(*(self.retry.run(item, ctx) for _, item in batch),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation, not a file's failure
        return {index: result for (index, _), result in zip(batch, results, strict=True)
                if isinstance(result, ItemOutcome)}

    def planned_makespan_s(self, durations: Sequence[float]) -> float:
        batches = [durations[i:i + self.size] for i in range(0, len(durations), self.size)]
        return sum(max(batch) for batch in batches) + self.pause_s * max(0, len(batches) - 1)

    def mean_makespan_s(self, n_files: int, mean_duration_s: float,
                        expected_max_s: Callable[[int], float]) -> float | None:
        sizes = [min(self.size, n_files - start) for start in range(0, n_files, self.size)]
        return sum(expected_max_s(k) for k in sizes) + self.pause_s * max(0, len(sizes) - 1)
