"""The words of issued documents, as terms (code, Chinese, English): they live in
``shared/vocabulary.py`` (the router's API, the events and the pages all carry them); this module
names them for the documents' modules."""

from __future__ import annotations

from shared.vocabulary import (
    DOCUMENT_FORMS,
    DOCUMENT_STATUSES,
    IDENTITY_RESULTS,
    LOOKUP_CHANNELS,
    REVOCATION_REASONS,
    USE_WINDOW_STATES,
)

__all__ = [
    "DOCUMENT_FORMS",
    "DOCUMENT_STATUSES",
    "IDENTITY_RESULTS",
    "LOOKUP_CHANNELS",
    "REVOCATION_REASONS",
    "USE_WINDOW_STATES",
]
