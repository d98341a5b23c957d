"""Reproducible per-participant randomness, derived by hashing (never Python's ``hash()``).

Every random choice a study makes for a participant (scene order, episode seeds, AI policy
seeds) comes from SHA-256 over the experiment seed, the participant id and a label,
so the same study file and participant id give the same choices on any machine, in any Python
version, and can be recomputed when analysing the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

#: Seeds fit an unsigned 32-bit integer: every RNG (numpy, random, JavaScript) accepts them.
SEED_BITS = 32


def _digest(parts: Sequence[object]) -> bytes:
    encoded = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("ascii")).digest()


def derive_seed(*parts: str | int) -> int:
    """A seed in ``[0, 2**32)`` determined by ``parts``, e.g. ``derive_seed(seed, scene_id, 3)``.

    ``derive_seed(1, "a")`` and ``derive_seed("1", "a")`` differ: parts are typed.
    """
    return int.from_bytes(_digest(parts)[:8], "big") >> (64 - SEED_BITS)


def participant_seed(experiment_seed: int, participant_id: str) -> int:
    """The participant's seed, from which every other choice for them is derived."""
    return derive_seed("participant", experiment_seed, participant_id)


def group_seed(experiment_seed: int, group_id: str) -> int:
    """A group's seed, from which its games' episodes are derived (every member sees the same)."""
    return derive_seed(experiment_seed, "group", group_id)


def shuffled(items: Sequence[T], seed: int) -> list[T]:
    """A permutation of ``items`` (Fisher-Yates driven by :func:`derive_seed`)."""
    result = list(items)
    for i in range(len(result) - 1, 0, -1):
        draw = int.from_bytes(_digest(["shuffle", seed, i]), "big")
        j = draw % (i + 1)  # 256-bit draw: the modulo bias is far below anything measurable
        result[i], result[j] = result[j], result[i]
    return result
