"""The payloads Onyx sends back: personas, folder snapshots, stream packets, the final message.

Synthetic but shaped like Onyx's: any positive id exists unless the profile says otherwise. The
files of folder ``f`` have ids ``FOLDER_FILE_BASE + f * 1000 + i`` for ``i`` in ``1..files`` so
they never collide with plain file ids below ten million.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mock_onyx.draws import unit_draw
from mock_onyx.profile import Profile

FOLDER_FILE_BASE = 10_000_000
_NOT_INDEXED_STATUSES = ("FAILED", "INDEXING", "REINDEXING")
_CREATED_AT = "2025-06-01T12:00:00+00:00"
_WORDS = ("context", "summary", "revenue", "roadmap", "customer", "risk", "milestone",
          "budget", "design", "review", "launch", "metrics", "team", "quarter", "plan")

PERSONAS: tuple[dict[str, Any], ...] = (
    {"id": 0, "name": "Assistant", "description": "The default assistant",
     "is_default_persona": True, "is_visible": True, "is_public": True, "display_priority": 0,
     "num_chunks": 25, "llm_relevance_filter": False, "tools": [], "starter_messages": []},
    {"id": 1, "name": "Summarizer", "description": "Writes summaries of documents",
     "is_default_persona": False, "is_visible": True, "is_public": True, "display_priority": 1,
     "num_chunks": 10, "llm_relevance_filter": False, "tools": [], "starter_messages": []},
)
PERSONA_IDS = frozenset(persona["id"] for persona in PERSONAS)


def folder_snapshot(profile: Profile, folder_id: int) -> dict[str, Any]:
    settings = profile.folders
    file_ids = [FOLDER_FILE_BASE + folder_id * 1000 + i for i in range(1, settings.files + 1)]
    not_indexed_count = round(len(file_ids) * settings.not_indexed_share)
    ranked = sorted(file_ids, key=lambda fid: unit_draw(profile.seed, "folder_status", fid))
    not_indexed = set(ranked[:not_indexed_count])
    files = [_folder_file(profile.seed, folder_id, fid, fid in not_indexed) for fid in file_ids]
    return {"id": folder_id, "name": f"Folder {folder_id}", "description": f"Synthetic folder {folder_id}",
            "files": files, "created_at": _CREATED_AT, "user_id": "00000000-0000-0000-0000-000000000001",
            "assistant_ids": [], "token_count": sum(f["token_count"] for f in files)}


def _folder_file(seed: int, folder_id: int, file_id: int, not_indexed: bool) -> dict[str, Any]:
    status = "INDEXED"
    if not_indexed:
        pick = int(unit_draw(seed, "not_indexed_status", file_id) * len(_NOT_INDEXED_STATUSES))
        status = _NOT_INDEXED_STATUSES[pick]
    return {"id": file_id, "name": f"file-{file_id}.pdf", "document_id": f"USER_FILE_CONNECTOR__{file_id}",
            "folder_id": folder_id, "file_id": f"{file_id:032x}", "created_at": _CREATED_AT,
            "token_count": 500 + file_id % 1000, "indexed": status == "INDEXED", "status": status,
            "chat_file_type": "user_knowledge"}


def answer_words(key: str, count: int) -> list[str]:
    """A deterministic answer of ``count`` words for a request key."""
    return [_WORDS[int(unit_draw(0, "word", key, i) * len(_WORDS))] for i in range(count)]


def message_ids_packet(user_message_id: int) -> dict[str, Any]:
    return {"user_message_id": user_message_id, "reserved_assistant_message_id": user_message_id + 1}


def final_message(assistant_message_id: int, session_id: str, answer: str) -> dict[str, Any]:
    return {"message_id": assistant_message_id, "parent_message": assistant_message_id - 1,
            "latest_child_message": None, "message": answer, "rephrased_query": None,
            "context_docs": None, "message_type": "assistant",
            "time_sent": datetime.now(UTC).isoformat(), "overridden_model": None,
            "alternate_assistant_id": None, "chat_session_id": session_id, "citations": {},
            "sub_questions": [], "files": [], "tool_call": None, "error": None}


def error_packet(message: str) -> dict[str, Any]:
    return {"error": message, "stack_trace": None}
