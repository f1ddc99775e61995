"""The IP-to-pod table in Zeek's Input Framework format."""

from __future__ import annotations

import parsezeeklogs

from kubectl_netmon.enrich.podmap import PodInfo
from kubectl_netmon.zeeklog.table import render_table
from tests.zeeklog.logs import DB, WEB

NODE = PodInfo(ns="", name="node-a", node="node-a", node_ip="192.168.0.10", kind="node")


def test_the_header_names_the_key_and_value_columns_zeek_reads():
    lines = render_table({"10.0.0.5": WEB}).splitlines()
    assert lines[0] == b"#separator \\x09"
    assert b"#fields\tip\tns\tname\tnode\tnode_ip" in lines
    assert b"#types\taddr\tstring\tstring\tstring\taddr" in lines


def test_each_address_is_one_row_sorted_by_address():
    rows = [line for line in render_table({"10.0.1.7": DB, "10.0.0.5": WEB,
                                           "fd00::1": WEB}).splitlines()
            if not line.startswith(b"#")]
    assert rows == [b"10.0.0.5\tshop\tweb-1\tnode-a\t192.168.0.10",
                    b"10.0.1.7\tshop\tdb-0\tnode-b\t192.168.0.11",
                    b"fd00::1\tshop\tweb-1\tnode-a\t192.168.0.10"]


def test_a_node_address_has_an_unset_namespace():
    [row] = [line for line in render_table({"192.168.0.10": NODE}).splitlines()
             if not line.startswith(b"#")]
    assert row == b"192.168.0.10\t-\tnode-a\tnode-a\t192.168.0.10"


def test_an_independent_zeek_reader_reads_the_table_back(tmp_path):
    path = tmp_path / "pods.tsv"
    path.write_bytes(render_table({"10.0.0.5": WEB, "192.168.0.10": NODE}))
    assert list(parsezeeklogs.ZeekLog(path)) == [
        {"ip": "10.0.0.5", "ns": "shop", "name": "web-1", "node": "node-a",
         "node_ip": "192.168.0.10"},
        {"ip": "192.168.0.10", "ns": None, "name": "node-a", "node": "node-a",
         "node_ip": "192.168.0.10"}]
