"""Reading logs plain or gzip (by content, not name) and replacing the table atomically."""

from __future__ import annotations

import gzip
import os

import pytest

from kubectl_netmon.errors import NetmonError, UsageError
from kubectl_netmon.zeeklog.files import LogInput, replace_atomically


def test_gzip_is_recognised_by_its_content_whatever_the_name(tmp_path):
    (tmp_path / "conn.log").write_bytes(gzip.compress(b"line 1\nline 2\n"))
    log = LogInput(str(tmp_path / "conn.log"))
    assert log.gzipped
    assert list(log.lines()) == [b"line 1\n", b"line 2\n"]


def test_a_plain_log_named_gz_is_read_as_plain(tmp_path):
    (tmp_path / "conn.log.gz").write_bytes(b"line 1\n")
    log = LogInput(str(tmp_path / "conn.log.gz"))
    assert (log.gzipped, list(log.lines())) == (False, [b"line 1\n"])


def test_a_cut_off_gzip_log_is_a_usage_error_naming_the_file(tmp_path):
    data = gzip.compress(b"x" * 10_000)
    (tmp_path / "conn.log.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(UsageError, match=f"^{tmp_path / 'conn.log.gz'}: cannot read it"):
        list(LogInput(str(tmp_path / "conn.log.gz")).lines())


def test_a_missing_log_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"missing\.log: cannot read it \(No such file"):
        LogInput(str(tmp_path / "missing.log"))


def test_replacing_gives_the_file_a_new_inode_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "pods.tsv"
    path.write_bytes(b"old\n")
    before = path.stat().st_ino
    replace_atomically(str(path), b"new\n")
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_ino != before  # what Zeek's REREAD notices even within one second
    assert os.listdir(tmp_path) == ["pods.tsv"]


def test_replacing_in_a_missing_directory_is_one_error_line(tmp_path):
    with pytest.raises(NetmonError, match=r"^cannot write .*pods\.tsv \(No such file"):
        replace_atomically(str(tmp_path / "nowhere" / "pods.tsv"), b"x")
