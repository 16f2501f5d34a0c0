"""Client-stack overhead, side by side in one run: N concurrent 100 ms calls to the mock through a
bare aiohttp client, the harness's default client (httpx over aiohttp) and httpx's stock transport.

    .venv/bin/python benchmarks/client_stack.py [--rounds 11]

At each concurrency the clients are measured round by round, interleaved (each round runs every
client once, their order rotating from round to round), so that load from other work on the machine
falls on all of them alike. The two httpx clients are exactly what runs use: ``harness_client``,
in-flight counter included, called with a URL parsed once as the extractor calls its fixed
endpoints (the bare client gets a parsed ``yarl.URL`` likewise). Prints the extra wall time over 100 ms (median of the rounds) and the
ratio of the harness's default client to bare aiohttp; the goal is within 2x at 100 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import aiohttp
import yarl
import httpx

from harness.transports import TransportKind, harness_client
from mock_onyx import profile_from_mapping, running_server

CALL_S = 0.1
CONCURRENCY = (8, 50, 100)
BARE = "aiohttp (bare)"
LABELS = {TransportKind.AIOHTTP: "httpx over aiohttp", TransportKind.HTTPX: "httpx (stock)"}

Call = Callable[[], Awaitable[object]]


async def extra_wall_ms(call: Call, concurrency: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(concurrency)))
    return (time.perf_counter() - start - CALL_S) * 1000


def via_httpx(client: httpx.AsyncClient, url: str) -> Call:
    parsed = httpx.URL(url)  # parsed once, as the extractor does for its fixed endpoints

    async def call() -> object:
        return (await client.get(parsed)).content
    return call


async def open_clients(stack: AsyncExitStack, base_url: str, url: str) -> dict[str, Call]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    await stack.enter_async_context(session)

    parsed = yarl.URL(url)  # parsed once too: the same advantage for the bare client

    async def bare() -> object:
        async with session.get(parsed) as response:
            return await response.read()

    calls: dict[str, Call] = {BARE: bare}
    for kind in TransportKind:
        client, _ = await stack.enter_async_context(harness_client(base_url, kind))
        calls[LABELS[kind]] = via_httpx(client, url)
    return calls


async def measure(base_url: str, url: str, concurrency: int, rounds: int) -> dict[str, float]:
    """Median extra wall ms of each client at ``concurrency``, on fresh clients whose pools hold
    ``concurrency`` connections (httpx's stock pool costs more per request the more it holds)."""
    async with AsyncExitStack() as stack:
        calls = await open_clients(stack, base_url, url)
        for call in calls.values():  # open the connections first
            await extra_wall_ms(call, concurrency)
        extras: dict[str, list[float]] = {label: [] for label in calls}
        labels = list(calls)
        for i in range(rounds):
            for label in labels[i % len(labels):] + labels[:i % len(labels)]:
                extras[label].append(await extra_wall_ms(calls[label], concurrency))
    return {label: statistics.median(values) for label, values in extras.items()}


async def main(rounds: int) -> None:
    profile = profile_from_mapping({"time_scale": 1.0, "latency": {"persona": f"fixed({CALL_S})"},
                                    "error_latency": "fixed(0)"}, "benchmark")
    results: dict[str, dict[int, float]] = {}
    async with running_server(profile) as server:
        for n in CONCURRENCY:
            for label, extra in (await measure(server.url, f"{server.url}/persona", n, rounds)).items():
                results.setdefault(label, {})[n] = extra
    print(f"extra wall ms over {CALL_S * 1000:.0f} ms calls, median of {rounds} interleaved rounds")
    print(f"{'client':<22}" + "".join(f"{n:>10} in flight" for n in CONCURRENCY))
    for label, row in results.items():
        print(f"{label:<22}" + "".join(f"{row[n]:>20.1f}" for n in CONCURRENCY))
    bare_100 = results[BARE][100]
    harness_100 = results[LABELS[TransportKind.AIOHTTP]][100]
    stock_100 = results[LABELS[TransportKind.HTTPX]][100]
    print(f"harness default / bare aiohttp at 100 in flight: {harness_100 / bare_100:.2f}x (goal <= 2x)")
    print(f"stock httpx / bare aiohttp at 100 in flight: {stock_100 / bare_100:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    asyncio.run(main(parser.parse_args().rounds))
