"""A live stream arrives in chunks of any size: the readers give the same records, damage (with
its byte offset) and notes whatever the chunks, as for the whole capture read at once. Chunks are
parsed in place; only the bytes that continue a block across chunks are stitched."""

from __future__ import annotations

import pytest

from kubectl_netmon.capture.chunkfile import ChunkFile
from kubectl_netmon.capture.reader import open_stream
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
