"""conn.log and notice.log records: the seed talk's shape, Zeek's rules for unset fields."""

from __future__ import annotations

import pytest

from kubectl_netmon.output.zeek import conn_record, iso_ts, notice_record
from tests.output.builders import seed_conn, seed_notice, seed_pods

ESC = "\x1b[31m"


def test_iso_ts_is_zeeks_iso8601_form_with_microseconds():
    assert iso_ts(1646765658846539000) == "2022-03-08T18:54:18.846539Z"


def test_iso_ts_keeps_leading_zeros_of_the_fraction():
    assert iso_ts(1646765658000001999) == "2022-03-08T18:54:18.000001Z"


def test_conn_record_with_pods_matches_the_seed_talks_record():
    assert conn_record(seed_conn(), seed_pods()) == {
        "ts": "2022-03-08T18:54:18.846012Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 1389, "proto": "tcp", "conn_state": "OTH", "local_orig": True,
        "local_resp": True, "missed_bytes": 0, "history": "C", "orig_pkts": 12,
        "orig_ip_bytes": 510, "resp_pkts": 5, "resp_ip_bytes": 312,
        "orig_pod.ns": "default", "orig_pod.name": "websvr2-58d56cf5-2whrf",
        "orig_pod.node": "node2", "orig_pod.node_ip": "172.31.11.115",
        "resp_pod.ns": "default", "resp_pod.name": "ldap-784466db5f-rv25w",
        "resp_pod.node": "node2", "resp_pod.node_ip": "172.31.11.115"}


def test_conn_record_fields_follow_zeeks_column_order():
    rec = conn_record(seed_conn(service="http", last_ns=seed_conn().ts_ns + 1), seed_pods())
    assert list(rec)[:16] == [
        "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
        "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
        "missed_bytes", "history"]


def test_duration_and_byte_counts_appear_only_when_the_duration_is_positive():
    assert "duration" not in conn_record(seed_conn())
    rec = conn_record(seed_conn(last_ns=seed_conn().ts_ns + 1_500_000_000, orig_bytes=7,
                                resp_bytes=9))
    assert (rec["duration"], rec["orig_bytes"], rec["resp_bytes"]) == (1.5, 7, 9)


@pytest.mark.parametrize("field", ["service", "history"])
def test_empty_service_and_history_are_left_out(field):
    assert field not in conn_record(seed_conn(service="", history=""))


def test_without_a_pod_map_there_are_no_pod_or_locality_fields():
    rec = conn_record(seed_conn())
    assert not [k for k in rec if k.startswith(("orig_pod.", "resp_pod.", "local_"))]


def test_an_address_the_pod_map_does_not_know_gets_no_pod_fields_and_is_not_local():
    rec = conn_record(seed_conn(resp_h="93.184.216.34"), seed_pods())
    assert "resp_pod.name" not in rec and rec["local_resp"] is False
    assert rec["orig_pod.name"] == "websvr2-58d56cf5-2whrf"


def test_a_node_address_has_no_namespace_field():
    pods = seed_pods()
    pods.add_node("172.31.11.115", "node2")
    rec = conn_record(seed_conn(resp_h="172.31.11.115"), pods)
    assert "resp_pod.ns" not in rec and rec["resp_pod.name"] == "node2"


def test_notice_record_matches_the_seed_talks_record():
    assert notice_record(seed_notice()) == {
        "ts": "2022-03-08T18:54:18.846539Z", "uid": "CURtov2gIkEQCel897",
        "id.orig_h": "10.244.1.23", "id.orig_p": 54700, "id.resp_h": "10.244.1.24",
        "id.resp_p": 1389, "proto": "tcp", "note": "CVE_2021_44228::LOG4J_LDAP_JAVA",
        "msg": "Possible Log4j exploit CVE-2021-44228 exploit, JAVA over LDAP. Refer to sub "
               "field for sample of payload.",
        "sub": "0\\x81\\x8e\\x02\\x01\\x02d", "src": "10.244.1.23", "dst": "10.244.1.24",
        "p": 1389, "actions": ["Notice::ACTION_LOG"], "suppress_for": 3600.0}


def test_notice_record_carries_pod_fields_for_both_ends():
    rec = notice_record(seed_notice(), seed_pods())
    assert (rec["orig_pod.name"], rec["resp_pod.name"]) == ("websvr2-58d56cf5-2whrf",
                                                            "ldap-784466db5f-rv25w")


def test_notice_extras_follow_the_zeek_fields_escaped():
    rec = notice_record(seed_notice(extra={"chain": "K1", "stage": 2, "uris": [ESC + "/a"]}))
    assert list(rec)[-3:] == ["chain", "stage", "uris"]
    assert rec["uris"] == ["\\x1b[31m/a"] and rec["stage"] == 2


def test_an_extra_cannot_overwrite_a_zeek_field():
    assert notice_record(seed_notice(extra={"note": "fake"}))["note"].startswith("CVE_2021")


def test_a_notice_without_a_connection_has_no_uid_or_id_fields():
    rec = notice_record(seed_notice(uid="", orig_h="", resp_h="", proto=""))
    assert not {"uid", "id.orig_h", "id.resp_h", "proto"} & set(rec)


def test_a_backslash_in_notice_text_is_doubled_so_escapes_stay_unambiguous():
    assert notice_record(seed_notice(sub="0\\x81\x8e"))["sub"] == "0\\\\x81\\x8e"


@pytest.mark.parametrize("field", ["msg", "sub"])
def test_notice_text_from_packets_is_escaped(field):
    rec = notice_record(seed_notice(**{field: f"ua {ESC}x\x00"}))
    assert rec[field] == "ua \\x1b[31mx\\x00"
