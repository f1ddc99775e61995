"""A binary file written by a thread of its own, so a capture does not wait for the disk.

A fast capture writes hundreds of MB/s; each write() of a full buffer may wait for the kernel
(page cache, writeback) while no packet is read. Here write() hands the bytes to a writer
thread (the file's write releases the GIL) and returns at once; at most DEPTH writes wait.
`threaded()` gives the compiled twin (capture._speedups.FileWriter) where it is built: its
thread writes without the GIL, also a pcapng writer's gathered blocks (no copy of the packets).
"""

from __future__ import annotations

import queue
import threading
from typing import BinaryIO

from kubectl_netmon.capture import speedups

DEPTH = 8  # writes handed over and not written yet, at most (memory bound: 8 of ~1 MiB)


class ThreadedFile:
    """write() hands `data` over (the caller must not change it afterwards); flush() returns
    once everything handed over is written and the file flushed; close() ends the thread, the
    file stays open. A failed write is raised again by the next write, flush or close."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._queue: queue.Queue = queue.Queue(DEPTH)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="netmon-write")
        self._thread.start()

    def write(self, data: bytes | bytearray) -> int:
        self._raise_error()
        self._queue.put(data)
        return len(data)

    def flush(self) -> None:
        self._queue.join()
        self._raise_error()
        self._file.flush()

    def close(self) -> None:
        """Write what is left, flush, and end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise_error()
        self._file.flush()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        """Thread body: write what is handed over, in order; after a failure, drop the rest."""
        failed = False
        while True:
            data = self._queue.get()
            try:
                if data is None:
                    return
                if not failed:
                    self._file.write(data)
            except OSError as e:
                failed, self._error = True, e
            finally:
                self._queue.task_done()


def threaded(file: BinaryIO):
    """`file` written by a thread: by the compiled FileWriter on its descriptor (what the file
    object buffered goes first), else by a ThreadedFile. The file stays open after close()."""
    fast = speedups.fast
    if fast is not None:
        try:
            fd = file.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: no descriptor
            fd = -1
        if fd >= 0:
            file.flush()
            return fast.FileWriter(fd, DEPTH)
    return ThreadedFile(file)
