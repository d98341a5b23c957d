"""The one error every server handler refuses a message or request with."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A message or request that cannot be honoured; ``reason`` goes back to the sender.

    Attributes:
        reason: what is wrong, naming the field (``"seq: expected an integer ..."``).
        retry: whether the same message may succeed later (over the upload rate, storage
            busy); the browser keeps it and resends.
        status: the HTTP status an HTTP route answers with.
        extra: more fields for the answer (``field`` of a bad survey answer, ...).
    """

    def __init__(
        self, reason: str, *, retry: bool = False, status: int = 400, **extra: Any
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.status = status
        self.extra = extra
