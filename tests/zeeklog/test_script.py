"""The Zeek script that loads the table: it must parse with zeekscript (the Zeek project's own
parser; no Zeek binary is available) and match the table it reads."""

from __future__ import annotations

import re

import zeekscript

from kubectl_netmon.zeeklog.script import zeek_script
from kubectl_netmon.zeeklog.table import TABLE_FIELDS


def parse(tmp_path, text: str) -> zeekscript.Script:
    path = tmp_path / "netmon-pods.zeek"
    path.write_text(text)
    script = zeekscript.Script(path)
    script.parse()
    return script


def test_the_script_parses_with_zeeks_own_parser(tmp_path):
    script = parse(tmp_path, zeek_script("/var/lib/netmon/pods.tsv"))
    assert not script.has_error(), script.get_error()


def test_the_parser_would_catch_a_broken_script(tmp_path):
    broken = zeek_script("/x.tsv").replace("ip: addr;", "ip addr")
    assert parse(tmp_path, broken).has_error()


def test_a_table_path_with_quotes_and_backslashes_stays_one_string_literal(tmp_path):
    text = zeek_script('/tmp/my "pods"\\table.tsv')
    assert 'const table_path = "/tmp/my \\"pods\\"\\\\table.tsv" &redef;' in text
    assert not parse(tmp_path, text).has_error()


def test_the_table_is_read_with_add_table_in_reread_mode():
    text = zeek_script("/x.tsv")
    assert re.search(r"Input::add_table\(\[\$source=table_path.*\$mode=Input::REREAD\]\)", text,
                     re.S)


def test_the_index_and_value_records_name_exactly_the_table_columns():
    text = zeek_script("/x.tsv")
    fields = re.findall(r"^\t\t(\w+): \w+", text, re.M)
    assert tuple(fields) == TABLE_FIELDS


def test_conn_log_gets_orig_pod_and_resp_pod_filled_before_it_is_written():
    text = zeek_script("/x.tsv")
    assert "orig_pod: Pod &optional &log;" in text and "resp_pod: Pod &optional &log;" in text
    assert "event connection_state_remove(c: connection)\n" in text  # priority 0: after
    assert "c$conn$orig_pod = pods[c$id$orig_h];" in text  # Conn fills (5), before it logs (-5)
