"""The report's output choices, kept apart from ``reports.build`` (which imports pandas and
matplotlib) so the CLI can offer them cheaply; ``reports.build`` re-exports them."""

from __future__ import annotations

FORMATS = ("html", "md", "csv")
IMAGE_FORMATS = ("png", "svg")
DEFAULT_IDLE_TIMEOUT_S = 60.0  # nginx in front of Onyx closes a silent response after 60 s
