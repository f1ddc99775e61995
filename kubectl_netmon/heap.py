"""Keep freed memory in the process while a live capture runs, so its buffers are reused instead
of being mapped afresh.

A fast stream allocates and frees buffers of up to a megabyte (socket reads, chunks, the
pcapng's writes) hundreds of times a second. glibc's malloc maps such blocks anew and hands the
freed top of its heap back to the kernel, so every new buffer costs a page fault per 4 KiB:
a quarter of a capture's CPU time. Raising its thresholds keeps up to TRIM_BYTES of freed memory.
Elsewhere (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
TRIM_BYTES = 64 << 20  # freed memory at the top of the heap kept for reuse, at most
MMAP_BYTES = 16 << 20  # blocks smaller than this come from the heap


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as described above; whether it took."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                        TRIM_BYTES))
