"""Opening Zeek logs to read (plain or gzip, told by magic bytes; "-" is stdin) and to write back
in the same compression, and replacing a file atomically for readers that poll it (Zeek)."""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from kubectl_netmon.errors import NetmonError, UsageError
from kubectl_netmon.output.escape import escape

GZIP_MAGIC = b"\x1f\x8b"


class LogInput:
    """A log to read: plain or gzip (told by its first bytes, not its name), or "-" for stdin."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
            self.gzipped = self._raw.peek(2)[:2] == GZIP_MAGIC
        except OSError as e:
            raise self._error(e) from None

    def lines(self) -> Iterator[bytes]:
        """Every line with its newline; the file is closed at the end."""
        stream = gzip.GzipFile(fileobj=self._raw, mode="rb") if self.gzipped else self._raw
        try:
            yield from stream
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            raise self._error(e) from None
        finally:
            if self._raw is not sys.stdin.buffer:
                self._raw.close()

    def _error(self, e: Exception) -> UsageError:
        reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        return UsageError(f"{escape(self.path)}: cannot read it ({escape(reason)})")


@contextlib.contextmanager
def open_output(path: str, gzipped: bool) -> Iterator[BinaryIO]:
    """A file for an enriched log ("-": stdout, never compressed), gzip when the input was."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    try:
        f = gzip.open(path, "wb") if gzipped else open(path, "wb")  # noqa: SIM115
    except OSError as e:
        raise NetmonError(f"cannot write {escape(path)} ({escape(e.strerror or str(e))})"
                          ) from None
    with f:
        yield f


def replace_atomically(path: str, data: bytes) -> None:
    """Write data to a temporary file beside path, then rename it over path: a reader sees the
    old or the new content, never half of it, and the new file has a new inode (what Zeek's
    REREAD mode compares, together with the mtime in whole seconds)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".netmon-", suffix=".tmp")
    except OSError as e:
        raise NetmonError(f"cannot write {escape(path)} ({escape(e.strerror or str(e))})"
                          ) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise NetmonError(f"cannot write {escape(path)} ({escape(e.strerror or str(e))})"
                          ) from None
