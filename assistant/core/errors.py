"""Errors of paperlens: one root, a few kinds, messages that name the fix."""

from __future__ import annotations


class PaperLensError(Exception):
    """Root of every error paperlens raises on purpose."""


class ConfigError(PaperLensError):
    """A setting is missing or invalid."""


class IngestError(PaperLensError):
    """A file could not be ingested; it is reported and skipped, never retried."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFormatError(IngestError):
    """The file's format is not one paperlens reads."""


class LibraryEmptyError(PaperLensError):
    """The library holds no papers yet."""

    def __init__(self, location: str) -> None:
        super().__init__(
            f"The library at {location} is empty - add papers with "
            "'paperlens ingest PATH' (e.g. 'paperlens ingest data/papers')."
        )


class StoreUnavailableError(PaperLensError):
    """The Chroma store (embedded or server) cannot be reached or opened."""


class ModelUnavailableError(PaperLensError):
    """The embedding model cannot be loaded from the local machine."""


class LLMUnavailableError(PaperLensError):
    """The LLM endpoint failed, timed out or refused the request after retries."""


class LLMAuthError(LLMUnavailableError):
    """The LLM endpoint rejected the key or the URL is wrong; retrying will not help."""


class PromptError(PaperLensError):
    """A prompt file is missing, malformed, or has unknown/missing placeholders."""


class InvalidQuestionError(PaperLensError):
    """The question is not text (e.g. None, bytes or a number was passed to `ask`)."""


class PaperNotFoundError(PaperLensError):
    """No paper of the library matches the id or title given."""


class ExportFormatError(PaperLensError, ValueError):
    """An export format paperlens does not write."""

    def __init__(self, fmt: object) -> None:
        super().__init__(
            f"Unknown export format {fmt!r} - use one of: bibtex (bib), ris, csl-json (csl), "
            "markdown (md)."
        )


class DateError(PaperLensError):
    """A date given to the digest (`paperlens digest --date/--since`) cannot be read."""
