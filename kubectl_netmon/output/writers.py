"""Streaming writers of Zeek JSON: one stream of every log (with _path), or a Zeek log directory.

Both take each connection as it finishes, each http/dns/ssl record as its transaction completes
(output.zeek_l7, before its conn record as in Zeek) and each notice as it is raised, write it at
once and keep nothing, so memory stays bounded however long the capture.
"""

from __future__ import annotations

import json
import os
from typing import IO

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodMap
from kubectl_netmon.errors import NetmonError, OutputError, UsageError
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.zeek import conn_json, notice_record

# One C encoder for every record (json.JSONEncoder.encode would build a new one per call, a fifth
# of the cost of a small record): compact separators, ASCII output, no circularity check (records
# are fresh dicts of plain values). It returns the record's text in chunks.
_encoder = json.encoder.c_make_encoder(None, json.JSONEncoder().default,
                                       json.encoder.encode_basestring_ascii, None, ":", ",",
                                       False, False, True)


BATCH_LINES = 512  # records of a capture file written at once (a live source's: each at its end)


def _encode(rec: dict) -> str:
    """rec as compact JSON text."""
    return "".join(_encoder(rec, 0))


class JsonLinesWriter:
    """`-o json`: one Zeek JSON object per line, `_path` first, as a JSON streaming plugin does.

    From a live source (`live`), flushed after each connection and notice, so a reader at the
    other end of a pipe (jq, a SIEM shipper) sees each record as soon as it is final; http, dns
    and ssl records go out with the next flush (one per connection, not one per transaction;
    a live capture also flushes every tick, so a quiet connection's requests do not wait).
    A capture file's records are written BATCH_LINES at a time.
    """

    def __init__(self, stream: IO[str], pods: PodMap | None = None, live: bool = True) -> None:
        self._stream = stream
        self._pods = pods
        self._live = live
        # Lines not yet written: one write() per flush, whatever the stream's own buffering
        # (PYTHONUNBUFFERED makes stdout write each line with a system call of its own).
        self._lines: list[str] = []

    def conn(self, conn: Conn) -> None:
        self._write("conn", conn_json(conn, self._pods))
        if self._live:
            self.flush()

    def l7_log(self, path: str, rec: dict) -> None:
        self._write(path, _encode(rec))

    def notice(self, notice: Notice) -> None:
        self._write("notice", _encode(notice_record(notice, self._pods)))
        if self._live:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._stream.write("".join(self._lines))
            self._lines.clear()
        self._stream.flush()

    def close(self) -> None:
        self.flush()

    def _write(self, path: str, text: str) -> None:
        # {"_path": path, **rec} as text: every record has at least "ts".
        lines = self._lines
        lines.append(f'{{"_path":"{path}",{text[1:]}\n')
        if len(lines) >= BATCH_LINES:
            self.flush()


class ZeekDirWriter:
    """`--zeek-dir DIR`: conn.log, notice.log, http.log, dns.log, ssl.log as Zeek's JSON writer
    makes them (one object per line, no _path: the file name is the path). A log is created when
    its first record comes, as in Zeek; existing ones are replaced."""

    def __init__(self, directory: str, pods: PodMap | None = None) -> None:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--zeek-dir {escape(directory)}: cannot create it "
                             f"({escape(e.strerror or str(e))})") from None
        self._dir = directory
        self._pods = pods
        self._files: dict[str, IO[str]] = {}

    def conn(self, conn: Conn) -> None:
        self._write("conn", conn_json(conn, self._pods))

    def l7_log(self, path: str, rec: dict) -> None:
        self._write(path, _encode(rec))

    def notice(self, notice: Notice) -> None:
        self._write("notice", _encode(notice_record(notice, self._pods)))

    def flush(self) -> None:
        """What was written so far into the files (a live capture's tick: `tail -f` sees it)."""
        for path, f in self._files.items():
            try:
                f.flush()
            except OSError as e:
                raise self._failed(path, e) from None

    def close(self) -> None:
        files, self._files = self._files, {}
        for path, f in files.items():
            try:
                f.close()
            except OSError as e:
                raise self._failed(path, e) from None

    def _write(self, path: str, text: str) -> None:
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = self._open(path)
        try:
            f.write(text + "\n")
        except OSError as e:
            raise self._failed(path, e) from None

    def _failed(self, path: str, e: OSError) -> OutputError:
        """A failed write (disk full) naming the log; what was written before stays."""
        name = os.path.join(self._dir, f"{path}.log")
        return OutputError(f"--zeek-dir: cannot write {escape(name)} "
                           f"({escape(e.strerror or str(e))}); what was written before the "
                           "failure is in it")

    def _open(self, path: str) -> IO[str]:
        name = os.path.join(self._dir, f"{path}.log")
        try:
            return open(name, "w", encoding="ascii")
        except OSError as e:
            raise NetmonError(f"--zeek-dir: cannot write {escape(name)} "
                             f"({escape(e.strerror or str(e))})") from None
