"""The terminal report: busiest flows first with pod names, then alerts grouped by chain."""

from __future__ import annotations

from kubectl_netmon.output.table import TableCollector
from tests.output.builders import TS_NS, seed_conn, seed_notice, seed_pods


def sized(uid: str, size: int, **kw):
    return seed_conn(uid=uid, orig_ip_bytes=size, resp_ip_bytes=0, **kw)


def flow_lines(report: str) -> list[str]:
    """The data rows of the flows table (after the header and its rule)."""
    flows = report.split("\nALERTS")[0].splitlines()
    return flows[3:]


def test_flows_are_listed_busiest_first_by_bytes():
    table = TableCollector()
    for uid, size in (("Csmall", 100), ("Cbig", 9000), ("Cmid", 500)):
        table.conn(sized(uid, size))
    assert [line.split()[0] for line in flow_lines(table.render())] == ["Cbig", "Cmid", "Csmall"]


def test_top_keeps_only_the_busiest_n_and_says_how_many_there_were():
    table = TableCollector(top=2)
    for i, size in enumerate((300, 100, 900, 200, 500)):
        table.conn(sized(f"C{i}", size))
    report = table.render()
    assert [line.split()[0] for line in flow_lines(report)] == ["C2", "C4"]
    assert "the busiest 2 of 5" in report


def test_known_pods_are_shown_by_namespace_and_name_and_others_by_address_and_port():
    table = TableCollector(seed_pods())
    table.conn(seed_conn(resp_h="93.184.216.34", resp_p=443))
    table.conn(seed_conn(uid="C2", orig_h="198.51.100.7"))
    rows = flow_lines(table.render())
    assert rows[0].split()[1:3] == ["default/websvr2-58d56cf5-2whrf", "93.184.216.34:443"]
    assert rows[1].split()[1:3] == ["198.51.100.7:54700", "default/ldap-784466db5f-rv25w:1389"]


def test_ipv6_endpoints_are_bracketed():
    table = TableCollector()
    table.conn(seed_conn(orig_h="fd00::1", resp_h="fd00::2"))
    assert flow_lines(table.render())[0].split()[1:3] == ["[fd00::1]:54700", "[fd00::2]:1389"]


def test_a_flow_row_shows_proto_service_state_packets_bytes_and_duration():
    table = TableCollector()
    conn = seed_conn(service="ldap")
    conn.last_ns = conn.ts_ns + 2_500_000_000
    table.conn(conn)
    assert flow_lines(table.render())[0].split()[3:] == ["tcp", "ldap", "OTH", "17", "822",
                                                         "2.500s"]


def test_alerts_are_grouped_by_chain():
    table = TableCollector(seed_pods())
    table.notice(seed_notice(extra={"chain": "K1"}))
    table.notice(seed_notice(note="Other::NOTE", extra={}))
    table.notice(seed_notice(note="CVE_2021_44228::LOG4J_JAVA_CLASS_DOWNLOAD",
                             extra={"chain": "K1"}))
    alerts = table.render().split("ALERTS (3)\n")[1]
    k1, rest = alerts.split("not in a chain:")
    assert k1.startswith("chain K1:") and "LOG4J_LDAP_JAVA" in k1 and "CLASS_DOWNLOAD" in k1
    assert "Other::NOTE" in rest
    assert "default/ldap-784466db5f-rv25w:1389" in k1


def test_a_chain_heading_names_its_roles_as_last_known_and_its_alerts_are_in_time_order():
    table = TableCollector()
    early = {"chain": "K1", "attacker": "203.0.113.217", "victim": ""}
    late = {"chain": "K1", "attacker": "203.0.113.217", "victim": "198.51.100.10:8080"}
    table.notice(seed_notice(note="Late", ts_ns=TS_NS + 10**9, extra=late))
    table.notice(seed_notice(note="Early", extra=early))
    alerts = table.render().split("ALERTS (2)\n")[1]
    assert alerts.startswith("chain K1 (attacker 203.0.113.217, victim 198.51.100.10:8080):")
    assert alerts.index("Early") < alerts.index("Late")


def test_without_alerts_the_section_says_none():
    assert TableCollector().render().endswith("ALERTS (0)\n(none)")


def test_no_raw_escape_or_control_byte_from_packets_reaches_the_table():
    table = TableCollector()
    table.conn(seed_conn(service="ht\x1b[31mtp"))
    table.notice(seed_notice(sub="ua \x1b[31m\x00"))
    table.notice(seed_notice(sub="", msg="\x1b]0;title\x07"))
    report = table.render()
    assert "\\x1b[31m" in report and "\\x00" in report and "\\x1b]0;title\\x07" in report
    assert not any(c < " " and c != "\n" for c in report)
