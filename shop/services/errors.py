"""Errors that refuse an operation with a message a person can read."""


class DomainError(Exception):
    """A refused operation. `message` is a (lazily) translated string."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    """The thing asked for does not exist, or is not visible to the asker."""


class Conflict(DomainError):
    """Someone else changed the thing first (a lost race, a stale state)."""
