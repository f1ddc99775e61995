"""Zeek JSON writers: one stream with _path (-o json) and a Zeek log directory (--zeek-dir)."""

from __future__ import annotations

import io
import json

import pytest

from kubectl_netmon.capture.l7.events import HttpRequest
from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.writers import BATCH_LINES, JsonLinesWriter, ZeekDirWriter
from kubectl_netmon.output.zeek_l7 import L7Logs
from tests.output.builders import TS_NS, seed_conn, seed_notice, seed_pods


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def http_record() -> dict:
    """The http.log record of an unanswered request to the seed connection."""
    written = []
    logs = L7Logs(lambda path, rec: written.append(rec))
    conn = seed_conn(service="http")
    logs.on_event(conn, HttpRequest(TS_NS, "GET", "/\x1b[31m", "HTTP/1.1", user_agent="ü"))
    logs.on_conn_end(conn)
    return written[0]


def test_json_lines_writes_each_record_as_it_comes_with_its_path_first():
    out = io.StringIO()
    writer = JsonLinesWriter(out, seed_pods())
    writer.notice(seed_notice())
    assert [r["_path"] for r in lines(out.getvalue())] == ["notice"]
    writer.conn(seed_conn())
    recs = lines(out.getvalue())
    assert [r["_path"] for r in recs] == ["notice", "conn"]
    assert list(recs[1])[:2] == ["_path", "ts"] and recs[1]["orig_pod.ns"] == "default"


def test_json_lines_writes_l7_records_in_the_order_they_come_with_their_path():
    out = io.StringIO()
    writer = JsonLinesWriter(out)
    writer.l7_log("http", http_record())
    writer.conn(seed_conn())
    recs = lines(out.getvalue())
    assert [r["_path"] for r in recs] == ["http", "conn"]
    assert recs[0] == {"_path": "http", **http_record()}


def test_json_lines_output_is_compact_ascii_one_object_per_line():
    out = io.StringIO()
    writer = JsonLinesWriter(out)
    writer.l7_log("http", http_record())
    writer.conn(seed_conn())
    text = out.getvalue()
    assert text.isascii() and "\x1b" not in text and '", "' not in text
    assert text.endswith("}\n") and text.count("\n") == 2


def test_zeek_dir_writes_one_log_per_path_without_a_path_field(tmp_path):
    writer = ZeekDirWriter(str(tmp_path / "logs"), seed_pods())
    writer.l7_log("http", http_record())
    writer.conn(seed_conn())
    writer.notice(seed_notice())
    writer.close()
    logs = {p.name: lines(p.read_text()) for p in (tmp_path / "logs").iterdir()}
    assert sorted(logs) == ["conn.log", "http.log", "notice.log"]
    assert logs["conn.log"][0]["uid"] == "CURtov2gIkEQCel897"
    assert logs["notice.log"][0]["resp_pod.name"] == "ldap-784466db5f-rv25w"
    assert not any("_path" in rec for recs in logs.values() for rec in recs)


def test_zeek_dir_creates_no_log_for_a_path_without_records(tmp_path):
    writer = ZeekDirWriter(str(tmp_path))
    writer.conn(seed_conn())
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["conn.log"]


def test_zeek_dir_replaces_logs_of_an_earlier_run(tmp_path):
    (tmp_path / "conn.log").write_text("old\n")
    writer = ZeekDirWriter(str(tmp_path))
    writer.conn(seed_conn())
    writer.close()
    assert len(lines((tmp_path / "conn.log").read_text())) == 1


def test_a_zeek_dir_that_cannot_be_created_is_a_usage_error_naming_it(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match=r"--zeek-dir .*file/logs: cannot create"):
        ZeekDirWriter(str(tmp_path / "file" / "logs"))


def test_json_lines_from_a_capture_file_are_written_in_batches_and_all_at_close():
    out = io.StringIO()
    writer = JsonLinesWriter(out, live=False)
    writer.l7_log("http", http_record())
    writer.conn(seed_conn())
    assert out.getvalue() == ""
    writer.close()
    assert [r["_path"] for r in lines(out.getvalue())] == ["http", "conn"]


def test_json_lines_of_one_long_connection_go_out_a_batch_at_a_time():
    out = io.StringIO()
    writer = JsonLinesWriter(out, live=False)
    for _ in range(BATCH_LINES):
        writer.l7_log("http", http_record())
    assert len(lines(out.getvalue())) == BATCH_LINES
