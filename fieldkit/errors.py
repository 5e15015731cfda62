"""One error hierarchy: every failure a user can fix carries a message and a hint."""

from __future__ import annotations


class FieldkitError(Exception):
    """A failure the user can act on; the CLI prints it as one line plus a hint, exit 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(FieldkitError):
    """The input file or folder cannot be read as a dataset."""


class UsageError(FieldkitError):
    """Options or arguments do not fit together (missing column, wrong sheet...)."""


class ModelError(FieldkitError):
    """A model is missing, unverified, corrupt or cannot run."""


class OutputError(FieldkitError):
    """The output cannot be written where the user asked."""


class Cancelled(FieldkitError):
    """The user cancelled a long-running job; nothing was written."""

    exit_code = 130

    def __init__(self, message: str = "cancelled", hint: str | None = None):
        super().__init__(message, hint or "nothing was written; run the command again to redo it")
