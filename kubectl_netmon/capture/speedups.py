"""The compiled fast paths of the per-packet loops (`_speedups.c`), or None where not built.

A live stream must be recorded and decoded as fast as `kubectl exec cat` moves its bytes, on
one core; in CPython the per-packet loops alone cost more than that. `_speedups` runs the common
case of each loop (valid EPBs and pcap records, writing EPBs, the comment cache, the decoder's
IPv4/IPv6 TCP/UDP fast paths, the flow engine's lookup and in-order TCP segment) in C and
leaves everything else to the Python code, which stays the reference: both give the same
records, bytes, packets and connections (tests/capture/test_speedups.py).
pip builds the extension where a C compiler is at hand (optional: without one the package
installs pure); NETMON_PURE_PYTHON=1 turns it off for a run. Callers read `fast` per batch.
"""

from __future__ import annotations

import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("NETMON_PURE_PYTHON"):
        return None
    try:
        from kubectl_netmon.capture import _speedups
    except ImportError:
        return None
    from kubectl_netmon.capture.conn import Conn
    from kubectl_netmon.capture.flows import Flow, TcpEndpoint
    from kubectl_netmon.capture.model import Packet

    _speedups.set_packet_type(Packet)
    _speedups.set_flow_types(Flow, Conn, TcpEndpoint)
    return _speedups


fast: ModuleType | None = _load()
