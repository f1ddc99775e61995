"""Hand-built connections and notices with the seed talk's values, for output tests."""

from __future__ import annotations

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodInfo, PodMap

TS_NS = 1646765658846012000  # 2022-03-08T18:54:18.846012Z, the seed conn record's ts
NODE_IP = "172.31.11.115"
WEBSVR = PodInfo("default", "websvr2-58d56cf5-2whrf", "node2", NODE_IP)
LDAP = PodInfo("default", "ldap-784466db5f-rv25w", "node2", NODE_IP)


def seed_conn(**fields) -> Conn:
    """The connection of the seed talk's conn.log record (10.244.1.23:54700 -> .24:1389)."""
    conn = Conn("CURtov2gIkEQCel897", TS_NS, "10.244.1.23", 54700, "10.244.1.24", 1389, "tcp")
    conn.conn_state, conn.history = "OTH", "C"
    conn.orig_pkts, conn.orig_ip_bytes, conn.resp_pkts, conn.resp_ip_bytes = 12, 510, 5, 312
    for name, value in fields.items():
        setattr(conn, name, value)
    return conn


def seed_notice(**fields) -> Notice:
    """The seed talk's LOG4J_LDAP_JAVA notice."""
    notice = Notice.for_conn(
        seed_conn(), 1646765658846539000, "CVE_2021_44228::LOG4J_LDAP_JAVA",
        "Possible Log4j exploit CVE-2021-44228 exploit, JAVA over LDAP. Refer to sub field for "
        "sample of payload.", sub="0\x81\x8e\x02\x01\x02d")
    for name, value in fields.items():
        setattr(notice, name, value)
    return notice


def seed_pods() -> PodMap:
    pods = PodMap()
    pods.add("10.244.1.23", WEBSVR)
    pods.add("10.244.1.24", LDAP)
    return pods
