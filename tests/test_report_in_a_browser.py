"""The HTML report in a real browser: headless Chromium loads it from disk, every plot image loads,
the page logs no error, and a screenshot is written for people to look at.

Chromium is driven over the DevTools protocol, through aiohttp's WebSocket client (already a
dependency): no browser-automation package. CI installs Debian's Chromium when it is absent
(``.ci/run``) and sets ``ONYX_BENCH_REQUIRE_CHROMIUM=1``, so there a missing browser fails the test
instead of skipping it; elsewhere the test skips, saying how to install it."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import matplotlib.image
import pytest

from harness.store import ResultsStore
from harness.sweep import InlineExecutor, plan_sweep, run_sweep
from reports.build import build_report
from scenarios import parse_scenario

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As this machine class's probe starts it: no sandbox as root, and nothing that calls the network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,2400", "--remote-debugging-port=0"]
SCENARIO = """
name = "browser"
seed = 2
repetitions = 3
mode = "virtual"
[workload]
files = [3, 6]
[[strategies]]
kind = "sequential"
[[strategies]]
kind = "batch"
size = [2, 4]
"""
SCREENSHOT = Path("results") / "browser" / "report.png"  # kept after the test, for people to look at
TIMEOUT_S = 30


class DevTools:
    """A minimal DevTools-protocol client: commands to one page, and the events it sends."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        await self._socket.send_json(message)
        while True:
            reply = await self._socket.receive_json()
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    async def until(self, method: str) -> dict[str, Any]:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(await self._socket.receive_json())
        return next(event for event in self.events if event.get("method") == method)


async def _inspect(page: str, profile_dir: Path) -> tuple[list[dict[str, Any]], int, list[str], bytes]:
    """Load ``page``; its images (alt and natural width), inline SVGs, errors, and a screenshot."""
    browser = await asyncio.create_subprocess_exec(
        str(CHROMIUM), *FLAGS, f"--user-data-dir={profile_dir}", "about:blank",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert browser.stderr is not None
        address = None
        while address is None:
            line = (await browser.stderr.readline()).decode()
            if not line:
                raise RuntimeError("Chromium exited before it listened for DevTools")
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            address = found.group(1) if found else None
        async with aiohttp.ClientSession() as http, http.ws_connect(address, max_msg_size=0) as socket:
            tools = DevTools(socket)
            target = await tools.call("Target.createTarget", url="about:blank")
            attached = await tools.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
            tools.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                await tools.call(f"{domain}.enable")
            await tools.call("Page.navigate", url=page)
            await tools.until("Page.loadEventFired")
            found = await tools.call("Runtime.evaluate", returnByValue=True, expression=(
                "JSON.stringify({images: Array.from(document.images).map(i => ({alt: i.alt, "
                "width: i.naturalWidth, complete: i.complete})), svgs: document.querySelectorAll("
                "'figure svg').length})"))
            shot = await tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            errors = [_error_text(event) for event in tools.events if _is_error(event)]
    finally:
        browser.kill()
        await browser.wait()
    content = json.loads(found["result"]["value"])
    return content["images"], content["svgs"], errors, base64.b64decode(shot["data"])


def _is_error(event: dict[str, Any]) -> bool:
    method, params = event.get("method"), event.get("params", {})
    return (method == "Runtime.exceptionThrown"
            or (method == "Runtime.consoleAPICalled" and params.get("type") == "error")
            or (method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error"))


def _error_text(event: dict[str, Any]) -> str:
    return json.dumps(event.get("params", {}))[:300]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = ResultsStore(tmp_path_factory.mktemp("browser") / "results")
    run_sweep(plan_sweep(parse_scenario(SCENARIO, "browser.toml", None), store, resume=False), store,
              InlineExecutor())
    return store.root


REQUIRED = os.environ.get("ONYX_BENCH_REQUIRE_CHROMIUM") == "1"  # set by .ci/run


@pytest.mark.skipif(CHROMIUM is None and not REQUIRED,
                    reason="Chromium is not installed (apt-get install chromium; CI installs it)")
@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_the_report_renders_in_chromium_with_every_plot_and_no_error(
        results: Path, image_format: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI requires Chromium (ONYX_BENCH_REQUIRE_CHROMIUM=1) and it is not installed: " \
                                 "see /tmp/ci-chromium.log for .ci/run's apt-get install chromium"
    report = build_report(results, tmp_path / "report", image_format=image_format)
    images, svgs, errors, shot = asyncio.run(asyncio.wait_for(
        _inspect(report.outputs["html"].as_uri(), tmp_path / "profile"), TIMEOUT_S))
    plots = len(report.plots)
    assert plots >= 4
    if image_format == "png":  # every plot an <img>, every one loaded
        assert len(images) == plots and all(i["complete"] and i["width"] > 0 for i in images), images
    else:  # inline SVG: no image to load
        assert images == [] and svgs == plots
    assert errors == []
    path = tmp_path / "shot.png"
    path.write_bytes(shot)
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] >= 2000 and pixels.std() > 0.05  # the whole page, not a blank one
    if image_format == "png":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOT)
