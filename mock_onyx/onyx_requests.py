"""Request bodies as Onyx's pydantic v2 models declare them, and Onyx's 422 body for bad ones.

Only the fields the mock reads are modelled beyond presence; unknown keys are ignored, as in Onyx.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ValidationError, model_validator


class ChatSessionCreationRequest(BaseModel):
    persona_id: int = 0
    description: str | None = None


class RetrievalDetails(BaseModel):
    run_search: Literal["always", "never", "auto"] = "auto"
    real_time: bool = True
    filters: dict[str, Any] | None = None
    enable_auto_detect_filters: bool | None = None
    offset: int | None = None
    limit: int | None = None
    dedupe_docs: bool = False


class CreateChatMessageRequest(BaseModel):
    """``POST /chat/send-message``: these keys must be present, even when null."""

    chat_session_id: UUID
    parent_message_id: int | None
    message: str
    file_descriptors: list[dict[str, Any]]
    user_file_ids: list[int] = []
    user_folder_ids: list[int] = []
    prompt_id: int | None
    search_doc_ids: list[int] | None
    retrieval_options: RetrievalDetails | None
    query_override: str | None = None
    regenerate: bool | None = None
    llm_override: dict[str, Any] | None = None
    prompt_override: dict[str, Any] | None = None
    alternate_assistant_id: int | None = None
    use_existing_user_message: bool = False

    @model_validator(mode="after")
    def _search_or_retrieval(self) -> CreateChatMessageRequest:
        if self.search_doc_ids is None and self.retrieval_options is None:
            raise ValueError("Either search_doc_ids or retrieval_options must be provided, "
                             "but not both or neither.")
        return self


class BasicCreateChatMessageRequest(BaseModel):
    """``POST /chat/send-message-simple-api`` (enterprise builds)."""

    chat_session_id: UUID
    message: str
    retrieval_options: RetrievalDetails | None = None
    query_override: str | None = None
    search_doc_ids: list[int] | None = None


def validation_message(error: ValidationError, location: str = "body") -> str:
    """Onyx's 422 ``message``: the request validation error, flattened to one line."""
    parts = [f"{{'type': {e['type']!r}, 'loc': {(location, *e['loc'])!r}, 'msg': {e['msg']!r}}}"
             for e in error.errors(include_url=False)]
    return "[" + ", ".join(parts) + "]"


def invalid_body(message: str) -> dict[str, Any]:
    return {"status_code": 422, "message": message, "data": None}
