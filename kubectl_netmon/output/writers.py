"""Streaming writers of Zeek JSON: one stream of every log (with _path), or a Zeek log directory.

Both take each connection as it finishes and each notice as it is raised, write it at once and
keep nothing, so memory stays bounded however long the capture.
"""

from __future__ import annotations

import json
import os
from typing import IO

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodMap
from kubectl_netmon.errors import NetmonError, UsageError
from kubectl_netmon.output.escape import escape
from kubectl_netmon.output.zeek import conn_record, notice_record
from kubectl_netmon.output.zeek_l7 import dns_records, http_records, ssl_records

# One C encoder for every record (json.JSONEncoder.encode would build a new one per call, a fifth
# of the cost of a small record): compact separators, ASCII output, no circularity check (records
# are fresh dicts of plain values). It returns the record's text in chunks.
_encoder = json.encoder.c_make_encoder(None, json.JSONEncoder().default,
                                       json.encoder.encode_basestring_ascii, None, ":", ",",
                                       False, False, True)


def _encode(rec: dict) -> str:
    """rec as compact JSON text."""
    return "".join(_encoder(rec, 0))


def conn_logs(conn: Conn, pods: PodMap | None) -> list[tuple[str, dict]]:
    """(path, record) for a finished connection: its http, dns and ssl records, then its conn
    record."""
    logs = [("http", r) for r in http_records(conn)]
    logs += [("dns", r) for r in dns_records(conn)]
    logs += [("ssl", r) for r in ssl_records(conn)]
    logs.append(("conn", conn_record(conn, pods)))
    return logs


class JsonLinesWriter:
    """`-o json`: one Zeek JSON object per line, `_path` first, as a JSON streaming plugin does.

    Flushed after each connection and notice, so a reader at the other end of a pipe (jq, a
    SIEM shipper) sees each record as soon as it is final, even from a live stream.
    """

    def __init__(self, stream: IO[str], pods: PodMap | None = None) -> None:
        self._stream = stream
        self._pods = pods

    def conn(self, conn: Conn) -> None:
        self._write(conn_logs(conn, self._pods))

    def notice(self, notice: Notice) -> None:
        self._write([("notice", notice_record(notice, self._pods))])

    def close(self) -> None:
        self._stream.flush()

    def _write(self, logs: list[tuple[str, dict]]) -> None:
        # {"_path": path, **rec} without copying rec: every record has at least "ts".
        self._stream.write("".join(f'{{"_path":"{path}",{_encode(rec)[1:]}\n'
                                   for path, rec in logs))
        self._stream.flush()


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
        for path, rec in conn_logs(conn, self._pods):
            self._write(path, rec)

    def notice(self, notice: Notice) -> None:
        self._write("notice", notice_record(notice, self._pods))

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def _write(self, path: str, rec: dict) -> None:
        f = self._files.get(path)
        if f is None:
            f = self._files[path] = self._open(path)
        f.write(_encode(rec) + "\n")

    def _open(self, path: str) -> IO[str]:
        name = os.path.join(self._dir, f"{path}.log")
        try:
            return open(name, "w", encoding="ascii")
        except OSError as e:
            raise NetmonError(f"--zeek-dir: cannot write {escape(name)} "
                             f"({escape(e.strerror or str(e))})") from None
