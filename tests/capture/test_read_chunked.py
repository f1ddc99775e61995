"""A live stream arrives in chunks of any size: the readers give the same records, damage (with
its byte offset) and notes whatever the chunks, as for the whole capture read at once. Chunks are
parsed in place; only the bytes that continue a block across chunks are stitched."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.reader import open_stream
from tests.capture import captures_gen as gen
from tests.capture.test_speedups import CAPTURES


def _read(data: bytes, size: int) -> tuple:
    reader = open_stream(ChunkFile(data[i:i + size] for i in range(0, len(data), size)), "cap")
    records = [(ts, iface, buf[start:end]) for ts, iface, buf, start, end in reader.records()]
    return records, str(reader.damage), reader.notes


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("size", [1, 7, 29, 1500])
def test_any_chunk_size_reads_as_the_whole_capture(name, size):
    whole = _read(CAPTURES[name], len(CAPTURES[name]))
    assert _read(CAPTURES[name], size) == whole
    assert whole[0]


def _frames(n: int) -> list[bytes]:
    return [bytes([i % 256]) * 100 for i in range(n)]


def _pcapng_of(frames: list[bytes]) -> tuple[bytes, int]:
    """A pcapng of the frames, and the offset of its first packet block."""
    head = gen.shb() + gen.idb(gen.LINKTYPE_ETHERNET)
    return head + b"".join(gen.epb(0, i, f) for i, f in enumerate(frames)), len(head)


def _pcap_of(frames: list[bytes]) -> tuple[bytes, int]:
    return gen.pcap_bytes(frames), 24


FORMATS = {"pcapng": _pcapng_of, "pcap": _pcap_of}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_block_across_two_chunks_goes_on_with_the_next_chunks_records(fmt):
    data, first = FORMATS[fmt](_frames(40))
    size = first + 1000  # every chunk ends inside a packet
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    batches = list(open_stream(ChunkFile(iter(chunks)), "cap").batches())
    assert len(batches) == len(chunks)
    assert [len(b) for b in batches[1:-1]] == [len(batches[1])] * (len(batches) - 2)
    assert sum(map(len, batches)) == 40


@pytest.mark.parametrize("fmt", FORMATS)
def test_records_are_handed_on_before_a_read_that_may_wait(fmt):
    """A packet completed by the start of a chunk that holds too little of the next one to go
    on is handed on before the read that waits for the rest (a quiet stream's last packet)."""
    data, first = FORMATS[fmt](_frames(3))
    record = (len(data) - first) // 3
    cut = first + record + record // 2  # inside the second packet
    rest = first + 2 * record + 5  # five bytes of the third
    log: list[str] = []

    def chunks():
        for chunk in (data[:cut], data[cut:rest], data[rest:]):
            log.append("read")
            yield chunk

    for batch in open_stream(ChunkFile(chunks()), "cap").batches():
        log.append(f"batch of {len(batch)}")
    assert log == ["read", "batch of 1", "read", "batch of 1", "read", "batch of 1"]
