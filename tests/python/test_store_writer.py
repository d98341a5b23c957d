"""The group-commit writer: many chunks per transaction, answers only after the commit, and a
chunk the database refuses fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from interactive_gym.data import Chunk, Store, validate_records
from interactive_gym.data.writer import ChunkWriter, WriteFailed


def chunk(pid: str, seq: int, n: int = 3) -> Chunk:
    records = [
        {"kind": "step", "scene_id": "g", "episode": 0, "step": seq * n + i, "t": 0.0}
        for i in range(n)
    ]
    return Chunk(pid, seq, validate_records(records), f"id{seq}")


async def test_concurrent_chunks_share_transactions(db_url: str) -> None:
    store = Store(db_url)
    writer = ChunkWriter(store)
    chunks = [chunk(f"p{i % 10}", i // 10) for i in range(200)]
    results = await asyncio.gather(*(writer.submit(c) for c in chunks))
    again = await asyncio.gather(*(writer.submit(c) for c in chunks[:20]))
    writer.close()
    assert results == [True] * 200 and again == [False] * 20
    assert writer.chunks == 220
    assert writer.batches < 220  # grouped: fewer transactions than chunks
    assert len(store.records()) == 600
    store.close()


class PickyStore(Store):
    """A real store whose database refuses any batch holding the participant "poison"."""

    def write_chunks(self, chunks: Sequence[Chunk]) -> list:
        if any(c.participant_id == "poison" for c in chunks):
            raise RuntimeError("value too long for type character varying(128)")
        return super().write_chunks(chunks)


async def test_a_refused_chunk_fails_alone(tmp_path: Path) -> None:
    store = PickyStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    writer = ChunkWriter(store)
    outcomes = await asyncio.gather(
        *(writer.submit(c) for c in [chunk("a", 0), chunk("poison", 0), chunk("b", 0)]),
        return_exceptions=True,
    )
    writer.close()
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], WriteFailed) and "storage error" in str(outcomes[1])
    assert sorted({r["participant_id"] for r in store.records()}) == ["a", "b"]
    store.close()


async def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    writer = ChunkWriter(store)
    pending = [asyncio.ensure_future(writer.submit(chunk("p", s))) for s in range(50)]
    await asyncio.sleep(0)  # let every submit reach the queue
    await asyncio.to_thread(writer.close)
    assert await asyncio.gather(*pending) == [True] * 50
    assert len(store.records("p")) == 150
    store.close()


@pytest.mark.parametrize("bad", [{"seq": 0}, None])
def test_write_chunk_refuses_non_lists(tmp_path: Path, bad: object) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(ValueError, match="records: expected a list"):
        store.write_chunk("p", 0, bad)  # type: ignore[arg-type]
    store.close()
