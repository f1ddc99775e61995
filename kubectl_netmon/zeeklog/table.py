"""The IP-to-pod table in Zeek's Input Framework format (what Input::add_table reads).

A TSV with Zeek's own header lines; the Input Framework's ASCII reader only needs `#fields`
(ip, ns, name, node, node_ip) and takes "-" as unset, which our script declares &optional (a
node's own address has no namespace). Rows are sorted by address so that two tables of the same
cluster state are byte-identical.
"""

from __future__ import annotations

import ipaddress

from kubectl_netmon.enrich.podmap import PodInfo
from kubectl_netmon.zeeklog.ascii import Header, directive, escape_cell
from kubectl_netmon.zeeklog.podfields import POD_KEYS, POD_TYPES, pod_values

TABLE_FIELDS = ("ip", *POD_KEYS)
TABLE_TYPES = ("addr", *POD_TYPES)
TABLE_PATH = "netmon_pods"


def render_table(holders: dict[str, PodInfo]) -> bytes:
    """The whole table file for address -> holder (canonical addresses as keys)."""
    header = Header()
    out = [b"#separator \\x09\n",
           directive("set_separator", [header.set_separator], header),
           directive("empty_field", [header.empty_field], header),
           directive("unset_field", [header.unset_field], header),
           directive("path", [TABLE_PATH.encode()], header),
           directive("fields", [f.encode() for f in TABLE_FIELDS], header),
           directive("types", [t.encode() for t in TABLE_TYPES], header)]
    for ip in sorted(holders, key=_address_order):
        cells = [escape_cell(v, header) if v else header.unset_field
                 for v in pod_values(holders[ip])]
        out.append(header.separator.join([ip.encode(), *cells]) + b"\n")
    return b"".join(out)


def _address_order(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    return addr.version, int(addr)
