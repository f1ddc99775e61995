"""ThreadedFile and its compiled twin (FileWriter, what `threaded()` gives where it is built):
what is handed over reaches the file in order, and a failed write is not lost."""

from __future__ import annotations

import io
import os
import select
import time

import pytest

from kubectl_netmon.capture import speedups
from kubectl_netmon.capture.pcapng_write import PcapngWriter
from kubectl_netmon.output.filethread import ThreadedFile, threaded

PIECES = [bytes([i]) * (1000 + i) for i in range(50)]


@pytest.fixture(params=["python", "compiled"])
def writer_of(request):
    """A function making a threaded writer of an open file: ThreadedFile, or FileWriter."""
    if request.param == "python":
        return ThreadedFile
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    return lambda f, depth=8: speedups.fast.FileWriter(f.fileno(), depth)


def test_everything_handed_over_is_in_the_file_in_order_once_flushed(tmp_path, writer_of):
    path = tmp_path / "out"
    with open(path, "wb") as f:
        out = writer_of(f)
        for piece in PIECES:
            out.write(piece)
        out.flush()
        assert path.read_bytes() == b"".join(PIECES)
        out.close()


def test_close_writes_what_is_left(tmp_path, writer_of):
    path = tmp_path / "out"
    with open(path, "wb") as f:
        out = writer_of(f)
        out.write(b"last words")
        out.close()
    assert path.read_bytes() == b"last words"


def test_a_failed_write_is_raised_in_the_writing_thread_by_the_next_flush(writer_of):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the write fails (EPIPE)
    with open(write_end, "wb", buffering=0) as f:
        out = writer_of(f)
        out.write(b"lost")
        with pytest.raises(BrokenPipeError):
            out.flush()
        out.close()


def test_a_writer_waits_for_the_disk_when_its_depth_is_handed_over(tmp_path):
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    path = tmp_path / "out"
    with open(path, "wb") as f:
        out = speedups.fast.FileWriter(f.fileno(), 2)
        for piece in PIECES:
            out.write(piece)
        out.close()
    assert path.read_bytes() == b"".join(PIECES)


def test_a_full_non_blocking_pipe_is_waited_for_not_failed():
    """stdout may be a non-blocking pipe (whoever shares it set O_NONBLOCK): a write that finds
    it full waits until the reader drains it."""
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    data = bytes(range(256)) * 4096  # 1 MiB, 16 times a pipe's buffer
    out = speedups.fast.FileWriter(write_end)
    out.write(data)
    got, deadline = bytearray(), time.monotonic() + 10
    while len(got) < len(data) and time.monotonic() < deadline:
        if select.select([read_end], [], [], 0.2)[0]:
            got += os.read(read_end, 65536)
    out.close()  # raises what a write met
    os.close(read_end)
    os.close(write_end)
    assert got == data


def _recorded(fileobj, packets: int) -> None:
    writer = PcapngWriter(fileobj, "test")
    writer.add_interface(1, "eth0")
    records = [(10**18 + i, 0, b"\0\0\x05\xdc" + bytes([i % 251]) * (60 + i % 7), 4, 64 + i % 7)
               for i in range(packets)]
    writer.write_batch(records, [b"" if i % 3 else b"\x01\x00\x03\x00abc\x00\x00\x00\x00\x00"
                                 for i in range(packets)])


def test_gathered_blocks_reach_the_file_as_the_joined_bytes(tmp_path):
    """More pieces than one writev takes (IOV_MAX): the blocks in the file are the bytes a
    file without a descriptor gets."""
    if speedups.fast is None:
        pytest.skip("the C extension is not built here (no compiler when installed)")
    joined = io.BytesIO()
    _recorded(joined, 3000)
    path = tmp_path / "out.pcapng"
    with open(path, "wb") as f:
        out = threaded(f)
        assert type(out) is speedups.fast.FileWriter
        _recorded(out, 3000)
        out.close()
    assert path.read_bytes() == joined.getvalue()


def test_a_file_without_a_descriptor_is_written_by_the_python_thread():
    out = threaded(io.BytesIO())
    out.close()
    assert type(out) is ThreadedFile
