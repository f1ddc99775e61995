"""Zeek conn.log and notice.log records (dicts in Zeek JSON field order) with pod context.

Fields without a value are left out, as Zeek's JSON writer does; every string that came from a
packet or a pod passes output.escape, notice text included: detectors quote payloads raw and the
outputs are the one place that escapes them. Times are Zeek's ISO 8601 form,
"2022-03-08T18:54:18.846539Z".
"""

from __future__ import annotations

import json
import time

from kubectl_netmon.capture.conn import Conn
from kubectl_netmon.detect.base import Notice
from kubectl_netmon.enrich.podmap import PodInfo, PodMap
from kubectl_netmon.output.escape import escape

NOTICE_ACTIONS = ["Notice::ACTION_LOG"]
_str = json.encoder.encode_basestring_ascii  # a JSON string literal, as the writers' encoder makes
_BOOL = ("false", "true")
_POD_FIELDS = {side: tuple(f"{side}_pod.{k}" for k in ("ns", "name", "node", "node_ip"))
               for side in ("orig", "resp")}


def iso_ts(ts_ns: int) -> str:
    """ns since the epoch as Zeek's JSON::TS_ISO8601 text (microseconds, UTC)."""
    global _last_second
    secs, ns = divmod(ts_ns, 1_000_000_000)
    last = _last_second
    if last[0] != secs:  # records come in time order: the date part rarely changes
        last = _last_second = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
    return f"{last[1]}.{ns // 1000:06d}Z"


_last_second: tuple = (None, "")  # (seconds, their text) of the latest iso_ts


def id_fields(orig_h: str, orig_p: int, resp_h: str, resp_p: int) -> dict:
    """Zeek's conn_id record, flattened the way its JSON writer does."""
    return {"id.orig_h": orig_h, "id.orig_p": orig_p, "id.resp_h": resp_h, "id.resp_p": resp_p}


def conn_record(conn: Conn, pods: PodMap | None = None) -> dict:
    """conn.log as a dict in column order: conn_json's record, parsed."""
    return json.loads(conn_json(conn, pods))


def conn_json(conn: Conn, pods: PodMap | None = None) -> str:
    """conn.log as compact JSON text: duration and byte counts only when the duration is
    positive, as Zeek does. With a pod map, local_orig/local_resp say whether the address is a
    known cluster address.

    One per connection, on the output's hot path: written straight as text (the JSON encoder
    would encode each constant key again), the same text json writes for the dict.
    """
    ts = conn.ts_ns
    text = (f'{{"ts":"{iso_ts(ts)}","uid":{_str(conn.uid)},"id.orig_h":{_str(conn.orig_h)},'
            f'"id.orig_p":{conn.orig_p},"id.resp_h":{_str(conn.resp_h)},'
            f'"id.resp_p":{conn.resp_p},"proto":{_str(conn.proto)}')
    if conn.service:
        text += f',"service":{_str(escape(conn.service))}'
    duration = conn.last_ns - ts
    if duration > 0:
        text += (f',"duration":{duration / 1e9!r},"orig_bytes":{conn.orig_bytes},'
                 f'"resp_bytes":{conn.resp_bytes}')
    text += f',"conn_state":{_str(conn.conn_state)}'
    if pods is not None:
        orig_pod, resp_pod = _pods_of(pods, conn.orig_h, conn.resp_h, ts)
        text += (f',"local_orig":{_BOOL[orig_pod is not None]},'
                 f'"local_resp":{_BOOL[resp_pod is not None]}')
    text += f',"missed_bytes":{conn.missed_bytes}'
    if conn.history:
        text += f',"history":{_str(conn.history)}'
    text += (f',"orig_pkts":{conn.orig_pkts},"orig_ip_bytes":{conn.orig_ip_bytes},'
             f'"resp_pkts":{conn.resp_pkts},"resp_ip_bytes":{conn.resp_ip_bytes}')
    if pods is not None:
        text += _pod_json("orig", orig_pod) + _pod_json("resp", resp_pod)
    return text + "}"


def notice_record(notice: Notice, pods: PodMap | None = None) -> dict:
    """notice.log: Zeek's fields, then pod context, then the detector's extra fields."""
    n = notice
    rec: dict = {"ts": iso_ts(n.ts_ns)}
    if n.uid:
        rec["uid"] = n.uid
    if n.orig_h:
        rec.update(id_fields(n.orig_h, n.orig_p, n.resp_h, n.resp_p))
    if n.proto:
        rec["proto"] = n.proto
    rec["note"] = escape(n.note)
    rec["msg"] = escape(n.msg)
    if n.sub:
        rec["sub"] = escape(n.sub)
    if n.src:
        rec["src"] = n.src
    if n.dst:
        rec.update(dst=n.dst, p=n.p)
    rec["actions"] = list(NOTICE_ACTIONS)
    rec["suppress_for"] = float(n.suppress_for)
    orig_pod, resp_pod = _pods_of(pods, n.orig_h or n.src, n.resp_h or n.dst, n.ts_ns)
    _add_pod_fields(rec, "orig", orig_pod)
    _add_pod_fields(rec, "resp", resp_pod)
    for key, value in n.extra.items():
        rec.setdefault(escape(str(key)), clean(value))
    return rec


def clean(value: object) -> object:
    """A JSON-ready copy of a detector's value: strings and bytes escaped."""
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {escape(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return escape(value)
    return escape(str(value))


def _pods_of(pods: PodMap | None, orig_h: str, resp_h: str, ts_ns: int) -> tuple:
    if pods is None:
        return None, None
    return (pods.lookup(orig_h, ts_ns) if orig_h else None,
            pods.lookup(resp_h, ts_ns) if resp_h else None)


def _pod_json(side: str, info: PodInfo | None) -> str:
    """_add_pod_fields as JSON text: ',"<side>_pod.ns":"...",...' (empty without a pod)."""
    if info is None:
        return ""
    return "".join(f',"{key}":{_str(escape(value))}'
                   for key, value in zip(_POD_FIELDS[side], (info.ns, info.name, info.node,
                                                             info.node_ip)) if value)


def _add_pod_fields(rec: dict, side: str, info: PodInfo | None) -> None:
    if info is None:
        return
    for key, value in zip(_POD_FIELDS[side], (info.ns, info.name, info.node, info.node_ip)):
        if value:
            rec[key] = escape(value)
