"""Small Zeek logs and pod maps for the zeeklog tests, written as Zeek writes them."""

from __future__ import annotations

from kubectl_netmon.enrich.podmap import PodInfo, PodMap

WEB = PodInfo(ns="shop", name="web-1", node="node-a", node_ip="192.168.0.10")
DB = PodInfo(ns="shop", name="db-0", node="node-b", node_ip="192.168.0.11")
T0 = 1_700_000_000  # seconds; records in these logs are at T0 + a few seconds

CONN_FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
               "service", "history"]
CONN_TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "string"]


def pod_map() -> PodMap:
    """web-1 at 10.0.0.5 and db-0 at 10.0.1.7 for all time; node-a's own address."""
    pods = PodMap()
    pods.add("10.0.0.5", WEB)
    pods.add("10.0.1.7", DB)
    pods.add_node("192.168.0.10", "node-a")
    return pods


def tsv_log(rows: list[list[str]], fields: list[str] = CONN_FIELDS,
            types: list[str] = CONN_TYPES, path: str = "conn") -> bytes:
    """A Zeek ASCII log with every header line Zeek writes, #close included."""
    head = ["#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
            f"#path\t{path}", "#open\t2023-11-14-22-13-20", "\t".join(["#fields", *fields]),
            "\t".join(["#types", *types])]
    body = ["\t".join(r) for r in rows]
    return ("\n".join([*head, *body, "#close\t2023-11-14-22-13-30"]) + "\n").encode()


def conn_row(orig: str, resp: str, second: int = 1, uid: str = "CAbc") -> list[str]:
    return [f"{T0 + second}.250000", uid, orig, "40000", resp, "80", "tcp", "http", "ShADadFf"]


def parse_tsv(data: bytes) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """(header lines by directive, records as field -> raw cell) of an ASCII log."""
    header: dict[str, list[str]] = {}
    records = []
    for line in data.decode().splitlines():
        if line.startswith("#"):
            key, _, rest = line.partition("\t") if not line.startswith("#separator") else \
                line.partition(" ")
            header[key] = rest.split("\t")
        else:
            records.append(dict(zip(header["#fields"], line.split("\t"))))
    return header, records
