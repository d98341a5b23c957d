"""State hashes: the canonical JSON of plain data, its 16-hex digest, and the env state's hash.

One definition for every hash the project records, so the browser's Pyodide, the server's env
processes and the replay compute the same text for the same state:

- :func:`env_state_hash`: the hash of an env's ``get_state()`` now. A game scene with
  ``record_state_hash_every=K`` (``game_host.py``) records it in the step record as
  ``state_hash``; the replay (``replay/_runtime.py``) recomputes it and compares.
- ``net_state.py`` hashes a whole game's snapshot (``{env, host}``) with the same two
  functions for the members of a browser group game (it re-exports them).

Standard library only, and nothing of this package but ``env_host.py``, so ``game_host.py``
and ``net_state.py`` both import it.
"""

from __future__ import annotations

import hashlib
from json import dumps
from typing import Any

from .env_host import EnvHost


def canonical(value: Any, allow_nan: bool) -> str:
    """The canonical JSON text of ``value`` (sorted keys, no spaces): what is hashed."""
    return dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=allow_nan)


def digest(text: str) -> str:
    """16 hex characters: blake2b with an 8-byte digest of ``text`` (UTF-8)."""
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def env_state_hash(host: EnvHost) -> str:
    """The hash of the env's state now: ``digest(canonical(get_state() as plain data))``, NaN
    and infinities included as JSON writes them. Raises ``OperationError`` when the env has no
    ``get_state()``."""
    return digest(canonical(host.get_state(), allow_nan=True))
