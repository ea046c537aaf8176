"""The one exception hierarchy of Respite.

::

    RespiteError
    ├── InputError            bad input from a user, a file or an API client
    │   ├── ValidationError   a value is malformed or out of range
    │   └── RuleCoverageError a rule table does not cover the requested date
    ├── ConflictError         the request contradicts the current state
    └── NotAllowed            the law or a policy forbids the action

Entry points map every ``InputError`` to exit status 2 (CLI) or HTTP 4xx (API) with the
message; the message always says *what* is wrong and *where*.
"""

from __future__ import annotations


class RespiteError(Exception):
    """Base of every error Respite raises on purpose."""


class InputError(RespiteError):
    """Input that Respite cannot accept; the message says what and where."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.field}: {message}" if self.field else message


class ValidationError(InputError):
    """A value is malformed, ambiguous or out of range."""


class RuleCoverageError(InputError):
    """A rule table has no value for the requested date (never a silent default)."""


class ConflictError(RespiteError):
    """The request contradicts the current state (e.g. reversing an entry twice)."""


class NotAllowed(RespiteError):
    """The law or a policy forbids the requested action."""
