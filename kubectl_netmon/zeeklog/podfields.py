"""The pod fields we add to Zeek logs and tables: names, Zeek types, and their (escaped) values.

Names match what Zeek itself logs for a `Pod` record field with &log (`orig_pod.ns`, ...), so a log
enriched here and one written by Zeek with our script have the same columns. A value is the
escaped text (output.escape), the same in JSON and TSV; TSV then applies Zeek's own escaping on
top, which a TSV reader undoes.
"""

from __future__ import annotations

from kubectl_netmon.enrich.podmap import PodInfo
from kubectl_netmon.output.escape import escape

POD_KEYS = ("ns", "name", "node", "node_ip")
POD_TYPES = ("string", "string", "string", "addr")
SIDES = ("orig", "resp")
LOG_FIELDS = tuple(f"{side}_pod.{key}" for side in SIDES for key in POD_KEYS)
LOG_TYPES = POD_TYPES * len(SIDES)


def pod_values(info: PodInfo) -> tuple[str, str, str, str]:
    """ns, name, node, node_ip of a holder, escaped ("" where the API gave nothing)."""
    return escape(info.ns), escape(info.name), escape(info.node), escape(info.node_ip)
