"""ThreadedFile: what is handed over reaches the file in order, and a failed write is not lost."""

from __future__ import annotations

import os

import pytest

from kubectl_netmon.output.filethread import ThreadedFile

PIECES = [bytes([i]) * (1000 + i) for i in range(50)]


def test_everything_handed_over_is_in_the_file_in_order_once_flushed(tmp_path):
    path = tmp_path / "out"
    with open(path, "wb") as f:
        out = ThreadedFile(f)
        for piece in PIECES:
            out.write(piece)
        out.flush()
        assert path.read_bytes() == b"".join(PIECES)
        out.close()


def test_close_writes_what_is_left(tmp_path):
    path = tmp_path / "out"
    with open(path, "wb") as f:
        out = ThreadedFile(f)
        out.write(b"last words")
        out.close()
    assert path.read_bytes() == b"last words"


def test_a_failed_write_is_raised_in_the_writing_thread_by_the_next_flush():
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the write fails (EPIPE)
    with open(write_end, "wb", buffering=0) as f:
        out = ThreadedFile(f)
        out.write(b"lost")
        with pytest.raises(BrokenPipeError):
            out.flush()
        out.close()
