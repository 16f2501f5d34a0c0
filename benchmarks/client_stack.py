"""Client-stack overhead, side by side in one run: N concurrent 100 ms calls to the mock through a
bare aiohttp client, the harness's default client (httpx over aiohttp) and httpx's stock transport.

    .venv/bin/python benchmarks/client_stack.py [--rounds 7]

Prints the extra wall time over 100 ms (median of the rounds) and the ratio of the harness's
default client to bare aiohttp; the goal is within 2x at 100 in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp

from harness.transports import TransportKind, harness_client
from mock_onyx import profile_from_mapping, running_server

CALL_S = 0.1
CONCURRENCY = (8, 50, 100)


async def extra_wall_ms(call: Callable[[], Awaitable[object]], concurrency: int, rounds: int) -> float:
    await asyncio.gather(*(call() for _ in range(concurrency)))  # open the connections first
    extras = []
    for _ in range(rounds):
        start = time.perf_counter()
        await asyncio.gather(*(call() for _ in range(concurrency)))
        extras.append((time.perf_counter() - start - CALL_S) * 1000)
    return statistics.median(extras)


async def main(rounds: int) -> None:
    profile = profile_from_mapping({"time_scale": 1.0, "latency": {"persona": f"fixed({CALL_S})"},
                                    "error_latency": "fixed(0)"}, "benchmark")
    async with running_server(profile) as server:
        url = f"{server.url}/persona"
        results: dict[str, dict[int, float]] = {}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            async def bare() -> object:
                async with session.get(url) as response:
                    return await response.read()
            results["aiohttp (bare)"] = {n: await extra_wall_ms(bare, n, rounds) for n in CONCURRENCY}
        for kind in TransportKind:
            async with harness_client(server.url, kind) as (client, _):
                async def via_httpx() -> object:
                    return (await client.get(url)).content
                label = f"httpx over {kind}" if kind is TransportKind.AIOHTTP else "httpx (stock)"
                results[label] = {n: await extra_wall_ms(via_httpx, n, rounds) for n in CONCURRENCY}
    print(f"extra wall ms over {CALL_S * 1000:.0f} ms calls, median of {rounds} rounds")
    print(f"{'client':<22}" + "".join(f"{n:>10} in flight" for n in CONCURRENCY))
    for label, row in results.items():
        print(f"{label:<22}" + "".join(f"{row[n]:>20.1f}" for n in CONCURRENCY))
    bare_100 = results["aiohttp (bare)"][100]
    harness_100 = results["httpx over aiohttp"][100]
    print(f"harness default / bare aiohttp at 100 in flight: {harness_100 / bare_100:.2f}x (goal <= 2x)")
    print(f"stock httpx / bare aiohttp at 100 in flight: {results['httpx (stock)'][100] / bare_100:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    asyncio.run(main(parser.parse_args().rounds))
