"""Pod names inside a pcapng: the Name Resolution Block name of an address, and back.

A pod is written "name.namespace" and a Service "name.namespace.svc", so Wireshark and
`tshark -N n` show them in place of the IPs; `analyze` turns the names back into pod context
when no pods JSON is given. Namespaces are DNS labels (no dots), so the last dot splits.
"""

from __future__ import annotations

from kubectl_netmon.enrich.podmap import PodInfo, PodMap, canonical_ip

SERVICE_SUFFIX = ".svc"


def nrb_name(info: PodInfo) -> str | None:
    """The name an address gets in the capture; None for what has no namespace (a node)."""
    if not info.ns:
        return None
    suffix = SERVICE_SUFFIX if info.kind == "service" else ""
    return f"{info.name}.{info.ns}{suffix}"


def parse_nrb_name(name: str) -> PodInfo | None:
    """The PodInfo an nrb_name() stands for; None for any other name (e.g. a DNS name)."""
    kind = "pod"
    if name.endswith(SERVICE_SUFFIX):
        name, kind = name[:-len(SERVICE_SUFFIX)], "service"
    pod, dot, ns = name.rpartition(".")
    if not (dot and pod and ns):
        return None
    return PodInfo(ns=ns, name=pod, kind=kind)


class NamedAddresses(PodMap):
    """A PodMap over a capture reader's `name_records` (ip -> name), which grow as the reader
    meets Name Resolution Blocks: each name holds its address for the whole capture."""

    def __init__(self, records: dict[str, str]) -> None:
        super().__init__()
        self._records = records
        self._loaded = 0

    def lookup(self, ip: str, ts_ns: int) -> PodInfo | None:
        if len(self._records) != self._loaded:
            self._load()
        return super().lookup(ip, ts_ns)

    def _load(self) -> None:
        for ip, name in list(self._records.items())[self._loaded:]:
            info = parse_nrb_name(name)
            if info is not None:
                self.add(canonical_ip(ip), info)
        self._loaded = len(self._records)
