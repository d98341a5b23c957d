"""Files a study hands to the browser by URL (ONNX models, ...), addressed by their content.

A scene that needs such files exposes them with a ``served_files()`` method returning
:class:`ServedFile` objects; the server serves each at its :attr:`ServedFile.url`,
``/study-files/<sha256>/<name>``. The content is read once when the study loads, so what is
served is exactly what was checked, and the URL changes whenever the content does (browsers
may cache it forever).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote

#: Where the server serves study files.
STUDY_FILES_PREFIX = "/study-files"


@dataclass(frozen=True)
class ServedFile:
    """One file's name (for the URL and messages), bytes and content type."""

    name: str
    data: bytes = field(repr=False)
    content_type: str = "application/octet-stream"

    @cached_property
    def digest(self) -> str:
        """The SHA-256 of the content, in hex."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def url(self) -> str:
        return f"{STUDY_FILES_PREFIX}/{self.digest}/{quote(self.name)}"
