"""The file-context extractor, as the production backend runs it against Onyx (shared/onyx-api.md).

Per file, one call after another: indexing status (failures ignored: the file is assumed ready),
the persona list (cached once answered; files that start before then each ask, as production's
do), create a chat session, the simple API and, on its 404, the streamed send-message. An error
packet or an empty answer means one more chat in the same session with a softer prompt. A folder
is fetched, its INDEXED files kept, and summarized through the same chat path. Per-operation
timeouts are idle limits, as production's read timeouts are, in simulated seconds on the run's clock.

``extract`` never raises for an item: it returns an ``ItemOutcome``. Decisions the seed leaves open:
a file the indexing status reports as not indexed is skipped (``not_indexed``), one it leaves out
is skipped (``not_found``); a partial answer (text, then an error packet or a bad line) counts as
ok, as the production client accepts it, with ``answer_complete`` false.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from harness.error_kinds import classify, status_kind
from harness.outcomes import (
    CallRecord,
    ErrorKind,
    ItemKind,
    ItemOutcome,
    Status,
    WorkItem,
)
from mock_onyx import SimClock

T = TypeVar("T")
PROMPT = "Summarize the key content of the attached file for use as context."
SOFTER_PROMPT = "Please briefly describe what the attached file is about."
RETRIEVAL = {"run_search": "never", "real_time": False}
# The mock says what it drew for each reply; a real Onyx sends no such header.
DRAWN_LATENCY_HEADER = "x-mock-latency-s"


@dataclass(frozen=True)
class Timeouts:
    """Per-operation timeouts in simulated seconds: production's (indexing status 30 s, persona
    10 s, create session 10 s, chat 180 s); the folder's 30 s is the harness's own. Each limits a
    wait for bytes, not a whole call (``OnyxExtractor._call``)."""

    indexing_status_s: float = 30.0
    persona_s: float = 10.0
    create_session_s: float = 10.0
    chat_s: float = 180.0
    folder_s: float = 30.0


class _Stop(Exception):
    """Ends an item early as failed or skipped."""

    def __init__(self, status: Status, kind: ErrorKind, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


@dataclass
class _Answer:
    text: str = ""
    complete: bool = False
    problem: ErrorKind | None = None


@dataclass
class _Trace:
    calls: list[CallRecord] = field(default_factory=list)
    chat_tries: int = 0
    answer: _Answer = field(default_factory=_Answer)


def session_description(item: WorkItem) -> str:
    """The chat session's description; the mock keys create-chat-session draws by it."""
    return f"onyx-bench {item.kind} {item.id}"


class OnyxExtractor:
    def __init__(self, client: httpx.AsyncClient, clock: SimClock, origin_s: float,
                 timeouts: Timeouts = Timeouts()) -> None:
        self._client = client
        # Absolute URLs, parsed once: httpx parses a relative path merged with base_url and params
        # about twice as slowly as an absolute string, and a string on every call again, while
        # client CPU per call is magnified by 1 / time scale (and is most of virtual mode's time).
        self._base = str(client.base_url).rstrip("/")
        self._urls = {path: httpx.URL(f"{self._base}{path}") for path in (
            "/persona", "/chat/create-chat-session", "/chat/send-message-simple-api", "/chat/send-message")}
        self._clock = clock
        self._origin_s = origin_s
        self._timeouts = timeouts
        self._persona_id: int | None = None

    def now(self) -> float:
        return self._clock.now() - self._origin_s

    async def extract(self, item: WorkItem) -> ItemOutcome:
        start, trace = self.now(), _Trace()
        status, kind, reason = Status.OK, None, ""
        try:
            if item.kind is ItemKind.FILE:
                await self._file(item, trace)
            else:
                await self._folder(item, trace)
        except _Stop as stop:
            status, kind, reason = stop.status, stop.kind, stop.reason
        except Exception as error:  # a harness bug must still leave a row for the item
            status, kind, reason = Status.FAILED, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}"
        answer = trace.answer
        if status is Status.OK and answer.problem is not None and not answer.complete:
            reason = f"partial answer ({answer.problem})"
        return ItemOutcome(item=item, status=status, start_s=start, end_s=self.now(), error_kind=kind,
                           reason=reason, chat_tries=trace.chat_tries, answer_chars=len(answer.text),
                           answer_complete=answer.complete, calls=tuple(trace.calls))

    async def _file(self, item: WorkItem, trace: _Trace) -> None:
        readiness = await self._indexing_status(item.id, trace)
        if readiness is not None:
            raise _Stop(Status.SKIPPED, readiness, f"indexing status: {readiness}")
        await self._summarize(item, [item.id], trace)

    async def _folder(self, item: WorkItem, trace: _Trace) -> None:
        try:
            folder = await self._call("folder", self._timeouts.folder_s, trace,
                                      lambda _: self._get_json(f"{self._base}/user/folder/{item.id}"))
        except _Stop as stop:
            if stop.kind is ErrorKind.HTTP_STATUS and trace.calls[-1].status_code == 404:
                raise _Stop(Status.SKIPPED, ErrorKind.NOT_FOUND, "folder not found") from None
            raise
        indexed = [f["id"] for f in folder.get("files", []) if f.get("status") == "INDEXED"]
        if not indexed:
            raise _Stop(Status.SKIPPED, ErrorKind.NOT_INDEXED, "folder has no indexed files")
        await self._summarize(item, indexed, trace)

    async def _indexing_status(self, file_id: int, trace: _Trace) -> ErrorKind | None:
        """None when the file is ready, or its indexing status failed (then it is assumed ready)."""
        try:
            statuses = await self._call(
                "indexing_status", self._timeouts.indexing_status_s, trace,
                lambda _: self._get_json(f"{self._base}/user/file/indexing-status?file_ids={file_id}"))
        except _Stop:
            return None
        if not isinstance(statuses, dict):
            return None
        if str(file_id) not in statuses:
            return ErrorKind.NOT_FOUND
        return None if statuses[str(file_id)] else ErrorKind.NOT_INDEXED

    async def _summarize(self, item: WorkItem, file_ids: list[int], trace: _Trace) -> None:
        persona_id = await self._persona(trace)
        created = await self._call("create_chat_session", self._timeouts.create_session_s, trace,
                                   lambda _: self._post_json(self._urls["/chat/create-chat-session"], {
                                       "persona_id": persona_id,
                                       "description": session_description(item)}))
        session_id = created["chat_session_id"]
        for prompt in (PROMPT, SOFTER_PROMPT):
            trace.chat_tries += 1
            trace.answer = await self._chat(session_id, file_ids, prompt, trace)
            if trace.answer.text.strip():
                return
        problem = trace.answer.problem or ErrorKind.EMPTY_ANSWER
        raise _Stop(Status.FAILED, problem, f"no answer after {trace.chat_tries} chats ({problem})")

    async def _persona(self, trace: _Trace) -> int:
        """The default persona, cached once fetched. No lock, as in production: files that start
        before the first answer each fetch it, and a failure is not cached (the next file asks)."""
        if self._persona_id is not None:
            return self._persona_id
        try:
            personas = await self._call("persona", self._timeouts.persona_s, trace,
                                        lambda _: self._get_json(self._urls["/persona"]))
        except _Stop:
            return 0
        defaults = [p["id"] for p in personas if p.get("is_default_persona")]
        self._persona_id = defaults[0] if defaults else personas[0]["id"] if personas else 0
        return self._persona_id

    async def _chat(self, session_id: str, file_ids: list[int], prompt: str, trace: _Trace) -> _Answer:
        simple = await self._call("simple_api", self._timeouts.chat_s, trace, lambda _: self._post_json(
            self._urls["/chat/send-message-simple-api"], {"chat_session_id": session_id, "message": prompt,
                                              "retrieval_options": RETRIEVAL}, allow=frozenset({404})))
        if simple is not None:
            return _Answer(text=simple.get("answer") or "", complete=True)
        body = {"chat_session_id": session_id, "message": prompt, "parent_message_id": None,
                "file_descriptors": [], "prompt_id": None, "search_doc_ids": None,
                "retrieval_options": RETRIEVAL, "user_file_ids": file_ids}
        return await self._call("send_message", self._timeouts.chat_s, trace,
                                lambda progress: self._stream_answer(body, progress))

    async def _stream_answer(self, body: dict[str, Any],
                             progress: Callable[[], None]) -> _Received[_Answer]:
        """The streamed answer; ``progress()`` on the response head and on every line received."""
        answer, pieces = _Answer(), []
        async with self._client.stream("POST", self._urls["/chat/send-message"], json=body) as response:
            progress()
            if response.status_code != 200:
                raise _StatusError(response.status_code, response.headers.get("retry-after"))
            async for line in response.aiter_lines():
                progress()
                if not line.strip():
                    continue
                try:
                    packet = json.loads(line)
                except json.JSONDecodeError:
                    answer.problem = ErrorKind.MALFORMED  # the client skips a line it cannot read
                    continue
                if "answer_piece" in packet:
                    pieces.append(packet["answer_piece"] or "")
                elif "error" in packet and "message_id" not in packet:
                    answer.problem = ErrorKind.ERROR_PACKET  # and ignores error packets
                elif "message_id" in packet:
                    answer.complete = True
        answer.text = "".join(pieces)
        # The call did not succeed when its answer is empty or the stream reported a problem
        # (an error packet, a bad line): the item may still be ok, but the call is the server's
        # fault as the mock's stream faults are (``onyx-bench calibrate`` counts them per call).
        problem = answer.problem or (None if answer.text.strip() else ErrorKind.EMPTY_ANSWER)
        return _Received(answer, response, problem)

    async def _get_json(self, url: str | httpx.URL) -> _Received[Any]:
        response = await self._client.get(url)
        return _Received(_json_or_status(response, frozenset()), response)

    async def _post_json(self, url: str | httpx.URL, body: dict[str, Any], allow: frozenset[int] = frozenset(),
                         ) -> _Received[Any]:
        response = await self._client.post(url, json=body)
        return _Received(_json_or_status(response, allow), response)

    async def _call(self, endpoint: str, timeout_s: float, trace: _Trace,
                    send: Callable[[Callable[[], None]], Awaitable[_Received[T]]]) -> T:
        """Run one HTTP call under its timeout; record it; turn any failure into ``_Stop``.

        The timeout is an idle limit, as production's ``httpx.AsyncClient(timeout=...)`` read
        timeout is: it bounds each wait for bytes, not the call. The deadline starts when the
        request is sent and moves to ``timeout_s`` after each sign of progress that ``send``
        reports through the callback it is given (the response head, each line of a stream), so a
        stream that keeps sending is never cut, and a stall fails ``timeout_s`` after its last
        byte. There is no overall deadline, as production has none. A JSON body arrives in one
        piece with its head, so those calls need no progress: one deadline from sending suffices.
        """
        start = self.now()
        try:
            async with asyncio.timeout(None) as deadline:
                idle = _IdleLimit(deadline, self._clock.to_wall(timeout_s))
                try:
                    received = await send(idle.progress)
                finally:
                    idle.stop()
        except _StatusError as error:
            trace.calls.append(CallRecord(endpoint, start, self.now(), error.status_code, error.kind,
                                          retry_after_s=error.retry_after_s))
            raise _Stop(Status.FAILED, error.kind, f"{endpoint}: HTTP {error.status_code}") from None
        except Exception as error:
            kind = classify(error)
            trace.calls.append(CallRecord(endpoint, start, self.now(), None, kind))
            detail = str(error) or type(error).__name__
            raise _Stop(Status.FAILED, kind, f"{endpoint}: {kind}: {detail}"[:300]) from None
        trace.calls.append(CallRecord(endpoint, start, self.now(), received.status_code, received.problem,
                                      drawn_latency_s=received.drawn_latency_s))
        return received.value


class _IdleLimit:
    """An idle limit on an ``asyncio.timeout``: it expires ``limit`` (wall seconds) after the last
    ``progress()``. Progress only stamps the time, and the one timer, when it fires early because
    progress came since, waits again for what is left: a timer per limit period, not per line
    (rescheduling on every line cost virtual mode a tenth of its speed)."""

    def __init__(self, deadline: asyncio.Timeout, limit: float) -> None:
        self._deadline, self._limit = deadline, limit
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer = self._loop.call_at(self._last + limit, self._check)

    def progress(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        due = self._last + self._limit
        if self._loop.time() >= due:
            self._deadline.reschedule(self._loop.time())  # expire now: TimeoutError in the call
        else:
            self._timer = self._loop.call_at(due, self._check)

    def stop(self) -> None:
        self._timer.cancel()


class _Received(Generic[T]):
    """A call's parsed value, its status, what went wrong in a body that arrived (a stream's
    error packet or empty answer; None: nothing), and (from the mock) the latency it drew."""

    def __init__(self, value: T, response: httpx.Response, problem: ErrorKind | None = None) -> None:
        self.value = value
        self.status_code = response.status_code
        self.problem = problem
        drawn = response.headers.get(DRAWN_LATENCY_HEADER)
        self.drawn_latency_s = float(drawn) if drawn is not None else None


class _StatusError(Exception):
    def __init__(self, status_code: int, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.kind = status_kind(status_code)
        self.retry_after_s = _seconds(retry_after)


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After in seconds (the mock's, in simulated seconds); None for none, or an HTTP date."""
    try:
        value = float(retry_after) if retry_after is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < float("inf") else None


def _json_or_status(response: httpx.Response, allow: frozenset[int]) -> Any:
    """The JSON body of a 2xx; None for an allowed status; otherwise a ``_StatusError``."""
    if response.status_code in allow:
        return None
    if not response.is_success:
        raise _StatusError(response.status_code, response.headers.get("retry-after"))
    return response.json()
