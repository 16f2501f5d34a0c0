"""A pytest plugin (entry point ``pytest11: onyx_bench``): the mock Onyx server as fixtures.

Inert unless a test asks for it: importing this module imports nothing heavy (the server, aiohttp,
pydantic and looptime load when a fixture is first used).

- ``mock_onyx``: the aiohttp mock on an ephemeral loopback port, on its own event loop in a
  background thread (so it serves sync tests and async tests alike). The handle has ``.url``,
  ``.stats()``, ``.reset()``, ``.profile``. The profile comes from
  ``@pytest.mark.mock_onyx(latency={...}, faults={...}, seed=..., time_scale=..., capacity=...)``
  (a profile TOML table) or an indirect parameter (a dict); the time scale defaults to 0.01.
- ``mock_onyx_factory``: ``factory(**table)`` starts another server; all stop after the test.
- ``mock_onyx_virtual``: the mock in-process on a virtual clock; ``.client`` is an
  ``httpx.AsyncClient`` over it. An async test that requests it runs on a looptime loop (virtual
  time: a 30 s call takes no wall time); a sync test calls ``mock_onyx_virtual.run(coro)``.
- ``route_all=True`` in the marker: every httpx client created during the test talks to the mock
  (the request's scheme, host and port rewritten to the server's; in virtual mode, served by the
  in-process transport), as respx and pytest-httpx patch httpx's transports.
- ``route_all=True`` reaches clients on any transport (httpx's own, httpx-aiohttp's, a mounted one).
- ``patch_time=True`` in the marker (virtual mode): ``time.time()``, ``time.monotonic()`` and
  ``time.perf_counter()`` follow the virtual clock.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mock_onyx.profile import Profile

MARKER = "mock_onyx"
DEFAULT_TIME_SCALE = 0.01  # wall seconds per simulated second: a 22 s call takes 0.22 s
IN_PROCESS_URL = "http://mock-onyx.in-process"
START_TIMEOUT_S = 10.0
PLUGIN_OPTIONS = ("route_all", "patch_time")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**table): the mock Onyx profile for the mock_onyx fixtures (latency, faults, seed, "
        "time_scale, capacity, ...), plus route_all=True to send every httpx client to the mock and "
        "patch_time=True to make time.time() follow the virtual clock",
    )


def _table(request: pytest.FixtureRequest, time_scale: float | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The profile table (marker, then indirect parameter over it) and the plugin's options."""
    table: dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keywords only (a profile table)")
        table.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise pytest.UsageError(f"an indirect parameter for {MARKER} must be a dict (a profile table)")
        table.update(param)
    options = {name: table.pop(name) for name in PLUGIN_OPTIONS if name in table}
    if time_scale is not None:
        table.setdefault("time_scale", time_scale)
    return table, options


def _as_json(value: Any) -> Any:
    import json
    return json.loads(json.dumps(value))


def _profile(table: dict[str, Any], source: str) -> Profile:
    from mock_onyx.profile import profile_from_mapping
    return profile_from_mapping(table, source)


class MockOnyx:
    """A running mock on loopback, served from its own loop in a background thread."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._loop = asyncio.new_event_loop()
        self._ready: Future[Any] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="mock-onyx", daemon=True)
        self._thread.start()
        self._server = self._ready.result(timeout=START_TIMEOUT_S)
        self.url: str = self._server.url
        self.model = self._server.model

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _main(self) -> None:
        from mock_onyx.server import running_server
        self._stop = asyncio.Event()
        try:
            async with running_server(self.profile) as server:
                self._ready.set_result(server)
                await self._stop.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    def _call(self, function: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return function()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=START_TIMEOUT_S)

    def stats(self, run: str | None = None) -> dict[str, Any]:
        """What ``GET /_mock/stats`` answers (as JSON: string keys)."""
        return _as_json(self._call(lambda: self.model.stats.snapshot(run)))

    def reset(self) -> None:
        """What ``POST /_mock/reset`` does: counters and sessions cleared."""
        self._call(self.model.reset)

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=START_TIMEOUT_S)

    def __repr__(self) -> str:
        return f"<MockOnyx {self.url}>"


def _follow_virtual_clock(monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop) -> None:
    """``time.time``, ``time.monotonic`` and ``time.perf_counter`` (and their ``_ns`` forms) advance
    with the virtual clock from their values now: a test's own "elapsed" arithmetic sees simulated
    seconds. Code that bound them earlier (``from time import monotonic``) keeps the real ones, and
    ``datetime.now()`` is not patched (it reads the C clock). looptime's loop keeps its own clock."""
    import time
    for name in ("time", "monotonic", "perf_counter"):
        start = getattr(time, name)()
        monkeypatch.setattr(time, name, lambda start=start: start + loop.time())
        monkeypatch.setattr(time, f"{name}_ns", lambda start=start: int((start + loop.time()) * 1e9))


class VirtualMockOnyx:
    """The mock in-process on a virtual clock; ``client`` talks to it with no sockets."""

    def __init__(self, profile: Profile) -> None:
        import httpx

        from mock_onyx.clock import SimClock
        from mock_onyx.inprocess import InProcessTransport
        from mock_onyx.model import OnyxModel
        self.profile = profile
        self.url = IN_PROCESS_URL
        self.model = OnyxModel(profile)
        self.clock = SimClock(1.0, wake_early_s=0.0)
        self.transport = InProcessTransport(self.model, self.clock)
        self.client = httpx.AsyncClient(base_url=self.url, transport=self.transport, timeout=60.0)
        self.patch_time = False

    def stats(self, run: str | None = None) -> dict[str, Any]:
        """What ``GET /_mock/stats`` answers (as JSON: string keys)."""
        return _as_json(self.model.stats.snapshot(run))

    def reset(self) -> None:
        self.model.reset()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on a fresh looptime loop (virtual time starting at 0); return its result."""
        import looptime
        factory = lambda: looptime.new_event_loop(start=0.0, noop_cycles=0)  # noqa: E731
        with asyncio.Runner(loop_factory=factory) as runner:
            if not self.patch_time:
                return runner.run(coro)
            mp = pytest.MonkeyPatch()
            _follow_virtual_clock(mp, runner.get_loop())
            try:
                return runner.run(coro)
            finally:
                mp.undo()

    def __repr__(self) -> str:
        return f"<VirtualMockOnyx {self.url}>"


def _route(monkeypatch: pytest.MonkeyPatch, routed: Callable[[Any], Any], routed_sync: Callable[[Any], Any]) -> None:
    """Every httpx client, whatever its transport (httpx's own, httpx-aiohttp's, a mounted one),
    sends through ``routed(its transport)``: httpx picks a client's transport for each request in
    ``_transport_for_url``, the one place every request passes. It is private, so this plugin's
    tests pin it (tests/test_pytest_plugin.py): respx and pytest-httpx patch httpx's two default
    transports instead, which misses a client built on any other."""
    import httpx
    real_async, real_sync = httpx.AsyncClient._transport_for_url, httpx.Client._transport_for_url
    monkeypatch.setattr(httpx.AsyncClient, "_transport_for_url",
                        lambda self, url: routed(real_async(self, url)))
    monkeypatch.setattr(httpx.Client, "_transport_for_url", lambda self, url: routed_sync(real_sync(self, url)))


def _route_real(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Send every request to ``url``'s scheme, host and port, through the client's own transport."""
    import httpx
    target = httpx.URL(url)
    host = target.netloc.decode("ascii")

    def rewrite(request: httpx.Request) -> None:
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
        request.headers["host"] = host

    class Rewriting(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            rewrite(request)
            return await self.inner.handle_async_request(request)

    class RewritingSync(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            rewrite(request)
            return self.inner.handle_request(request)

    _route(monkeypatch, Rewriting, RewritingSync)


def _route_virtual(monkeypatch: pytest.MonkeyPatch, mock: VirtualMockOnyx) -> None:
    """Serve every async client's requests in-process; a sync client cannot be (it would block
    the virtual clock's only thread)."""
    import httpx

    class Refusing(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise RuntimeError("mock_onyx_virtual serves async clients only (httpx.AsyncClient): "
                               "use the mock_onyx fixture for a sync httpx.Client")

    _route(monkeypatch, lambda _: mock.transport, lambda _: Refusing())


@pytest.fixture
def mock_onyx_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., MockOnyx]]:
    """``factory(**table)``: another mock on loopback with that profile (time scale 0.01 unless
    given); every one stops after the test."""
    started: list[MockOnyx] = []

    def factory(**table: Any) -> MockOnyx:
        table.setdefault("time_scale", DEFAULT_TIME_SCALE)
        server = MockOnyx(_profile(table, f"{MARKER}_factory profile"))
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def mock_onyx(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockOnyx]:
    """The mock on an ephemeral loopback port, with the marker's (or indirect parameter's) profile."""
    table, options = _table(request, DEFAULT_TIME_SCALE)
    server = MockOnyx(_profile(table, f"@pytest.mark.{MARKER}"))
    try:
        if options.get("route_all"):
            _route_real(monkeypatch, server.url)
        yield server
    finally:
        monkeypatch.undo()
        server.stop()


@pytest.fixture
def mock_onyx_virtual(request: pytest.FixtureRequest,
                      monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualMockOnyx]:
    """The mock in-process on virtual time; an async test requesting it runs on a looptime loop."""
    table, options = _table(request, None)
    mock = VirtualMockOnyx(_profile(table, f"@pytest.mark.{MARKER}"))
    mock.patch_time = bool(options.get("patch_time"))
    if options.get("route_all"):
        _route_virtual(monkeypatch, mock)
    yield mock


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an async test that requests ``mock_onyx_virtual`` on a looptime loop.

    pytest-asyncio (1.x) would run it on its own loop, which has no virtual time; it hands the
    test over as a sync wrapper (``functools.wraps``), so the coroutine function is unwrapped here
    and run on a fresh looptime loop instead. Async fixtures it requests were set up on
    pytest-asyncio's loop: use sync fixtures (or none) beside this one.
    """
    if "mock_onyx_virtual" not in pyfuncitem.fixturenames:
        return None
    function = inspect.unwrap(pyfuncitem.obj)
    if not inspect.iscoroutinefunction(function):
        return None
    mock: VirtualMockOnyx = pyfuncitem.funcargs["mock_onyx_virtual"]
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def main() -> None:
        try:
            await function(**kwargs)
        finally:
            await mock.client.aclose()

    mock.run(main())
    return True
