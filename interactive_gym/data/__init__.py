"""Storage of a study's participants and records (SQLite or PostgreSQL via SQLAlchemy 2)."""

from interactive_gym.data.chunks import Chunk, SeqConflict
from interactive_gym.data.groups import Group, GroupExists, GroupMember, UnknownGroup
from interactive_gym.data.records import (
    Limits,
    Record,
    RecordError,
    validate_chunk_id,
    validate_records,
    validate_seq,
)
from interactive_gym.data.store import (
    DEFAULT_URL,
    Participant,
    ParticipantExists,
    Store,
    UnknownParticipant,
)

__all__ = [
    "DEFAULT_URL",
    "Chunk",
    "Group",
    "GroupExists",
    "GroupMember",
    "Limits",
    "Participant",
    "ParticipantExists",
    "Record",
    "RecordError",
    "SeqConflict",
    "Store",
    "UnknownGroup",
    "UnknownParticipant",
    "validate_chunk_id",
    "validate_records",
    "validate_seq",
]
