"""Pods, services and nodes from the API into a PodMap, with times: list once, or list then watch.

A pod's addresses enter the map when it has them (since its start time: it cannot have held them
earlier), and leave it (end at the time we see it) when it is deleted, finishes, or its
addresses change. Node addresses (InternalIP, ExternalIP) name their node, which is what
hostNetwork pods send from. A service's ClusterIPs name the service from its creation (a client
in a pod sends to them before kube-proxy rewrites the address on the node).

A user whose rights end at a namespace (a RoleBinding, no ClusterRole) still gets names: pods
and services are listed in all namespaces where allowed, else in each of `namespaces` (the
targets'); nodes and services are left out where not allowed. `limits` says what was left out.

A watch that the server expires (410 Gone) is resumed by listing again: pods missing from the new
list are ended then. Objects are read as plain JSON dicts, the shape `kubectl get -o json` and our
pods JSON snapshots have, not as client models.
"""

from __future__ import annotations

import calendar
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import urllib3
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client.rest import ApiException

from kubectl_netmon.enrich.podmap import PodInfo, PodMap, canonical_ip
from kubectl_netmon.errors import ClusterError
from kubectl_netmon.output.escape import escape

_ENDED_PHASES = ("Succeeded", "Failed")
_NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")
RESOURCES = ("nodes", "pods", "services")
OPTIONAL = ("nodes", "services")  # forbidden to list them: go on without their names
NAMESPACED = ("pods", "services")
# what is listed and watched: (resource, namespace), "" for all namespaces
Source = tuple[str, str]
_GONE = 410
WATCH_SECONDS = 300  # each watch request ends after this; the next resumes where it stopped
RETRIES = 5  # lost watch connections in a row before --watch gives up
LIST_TIMEOUT = (30, 300)  # seconds to connect, and to wait for a list (big clusters are slow)


@dataclass(frozen=True)
class _Held:
    """The addresses one pod or service holds now, and as whom."""

    ips: tuple[str, ...]
    info: PodInfo


class PodSource:
    """Keeps `pods` (a PodMap) and `current()` (who holds each address now) in step with the API.

    State is changed only by the caller's thread (sync(), run()); watch threads just read and
    queue what the server sends. `on_pod(pod, deleted)`, when set, sees every pod object
    applied, in that thread (cluster.follow), and a pod that a new list no longer holds as
    deleted (then only its metadata.uid is known).
    """

    def __init__(self, client: ApiClient, pods: PodMap | None = None,
                 clock: Callable[[], int] = time.time_ns, namespaces: Sequence[str] = ()
                 ) -> None:
        """`namespaces`: where to list pods and services when the user may not list them in
        all namespaces."""
        self.pods = pods if pods is not None else PodMap()
        self.namespaces = list(dict.fromkeys(namespaces))
        self.limits: list[str] = []  # what the user's rights left out, one line each (sync())
        self._sources: list[Source] = [(r, "") for r in RESOURCES]
        self._api = CoreV1Api(client)
        self._clock = clock
        self._held: dict[str, dict[str, _Held]] = {"pods": {}, "services": {}}  # by uid
        self._nodes: dict[str, str] = {}  # node address -> node name
        self._rv: dict[Source, str] = {}  # resourceVersion to watch from
        self._past: set[str] = set()  # uids of pods seen only after they finished
        self.on_pod: Callable[[dict, bool], None] | None = None

    def sync(self) -> PodMap:
        """List nodes, pods and services once (enough for enriching logs), where the user may;
        returns the map. run() then watches what was listed."""
        self._sources, self.limits = [], []
        for resource in RESOURCES:
            self._sources += self._listed(resource)
        return self.pods

    def _listed(self, resource: str) -> list[Source]:
        """List the resource in all namespaces, else in each of ours; the sources listed."""
        try:
            self._apply_list((resource, ""), *self._list((resource, "")))
            return [(resource, "")]
        except _Forbidden as e:
            denied = e
        sources = [(resource, ns) for ns in self.namespaces] if resource in NAMESPACED else []
        try:
            for source in sources:
                self._apply_list(source, *self._list(source))
        except _Forbidden:
            if resource not in OPTIONAL:
                raise
            sources = []
        if not sources and resource not in OPTIONAL:
            raise denied
        if sources:
            plural = "s" if len(self.namespaces) > 1 else ""
            self.limits.append(f"{resource} are named in namespace{plural} "
                               f"{', '.join(self.namespaces)} only: no permission to list "
                               f"{resource} in all namespaces")
        else:
            self.limits.append(f"{resource} are not named: no permission to list {resource}")
        return sources

    def current(self) -> dict[str, PodInfo]:
        """Every address held now: pods' and services' addresses, then nodes' not used by a
        pod."""
        out = {ip: held.info for held in (*self._held["pods"].values(),
                                          *self._held["services"].values()) for ip in held.ips}
        for ip, node in self._nodes.items():
            out.setdefault(ip, PodInfo(ns="", name=node, node=node, node_ip=ip, kind="node"))
        return out

    def run(self, on_change: Callable[[], None], stop: threading.Event | None = None,
            watch_seconds: int = WATCH_SECONDS) -> None:
        """Watch nodes, pods and services until stop is set, calling on_change after each change
        that affects who holds an address. Lists first unless sync() ran."""
        stop = stop or threading.Event()
        events: queue.Queue = queue.Queue()
        for source in self._sources:
            threading.Thread(target=self._feed, args=(source, events, stop, watch_seconds),
                             daemon=True, name=f"netmon-watch-{source[0]}").start()
        running = len(self._sources)
        while running:
            kind, source, payload = events.get()
            if kind == "stopped":
                running -= 1
            elif kind == "error":
                stop.set()
                raise payload
            elif self._apply(kind, source, payload):
                on_change()

    # -- reading (watch threads) ----------------------------------------------------------

    def _feed(self, source: Source, events: queue.Queue, stop: threading.Event,
              watch_seconds: int) -> None:
        """List (when needed) and watch one source, queueing ("list"|"event", ...). A lost
        connection is retried with backoff, resuming where it stopped; RETRIES in a row end it."""
        rv, failures = self._rv.get(source), 0
        try:
            while not stop.is_set():
                try:
                    if rv is None:
                        items, rv = self._list(source)
                        events.put(("list", source, items))
                    rv = self._watch(source, rv, events, stop, watch_seconds)
                    failures = 0
                except _Unreachable:
                    failures += 1
                    if failures > RETRIES:
                        raise
                    stop.wait(min(2 ** failures, 30))
        except _Forbidden as e:
            if source[0] not in OPTIONAL:
                events.put(("error", source, e))
        except ClusterError as e:
            events.put(("error", source, e))
        finally:
            events.put(("stopped", source, None))

    def _watch(self, source: Source, rv: str, events: queue.Queue, stop: threading.Event,
               seconds: int) -> str | None:
        """One watch request from rv; the rv to resume from, or None to list again (410)."""
        what = _what(source)
        resp = self._request(source, watch=True, resource_version=rv,
                             allow_watch_bookmarks=True, timeout_seconds=seconds,
                             _request_timeout=(30, seconds + 30))
        try:
            if resp.status == _GONE:
                return None
            _check(resp, what)
            for line in _lines(resp):
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == _GONE:
                        return None
                    raise ClusterError(f"watching {what}: {_status_text(obj)}")
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if event.get("type") != "BOOKMARK":
                    events.put(("event", source, (event.get("type"), obj)))
                if stop.is_set():
                    break
            return rv
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            raise _Unreachable(f"watching {what}: connection lost "
                               f"({_network_reason(e)})") from None
        finally:
            resp.release_conn()

    def _list(self, source: Source) -> tuple[list[dict], str]:
        resp = self._request(source, _request_timeout=LIST_TIMEOUT)
        try:
            _check(resp, _what(source))
            doc = json.loads(resp.data)
        except ValueError:
            raise ClusterError(f"listing {_what(source)}: the API server sent something that "
                               "is not JSON") from None
        finally:
            resp.release_conn()
        return doc.get("items") or [], (doc.get("metadata") or {}).get("resourceVersion") or ""

    def _request(self, source: Source, **kwargs):
        """The raw HTTP response of a list or watch (no model decoding: dicts are enough)."""
        resource, ns = source
        api = self._api
        if ns:
            call = partial({"pods": api.list_namespaced_pod,
                            "services": api.list_namespaced_service}[resource], ns)
        else:
            call = {"nodes": api.list_node, "pods": api.list_pod_for_all_namespaces,
                    "services": api.list_service_for_all_namespaces}[resource]
        try:
            return call(_preload_content=False, **kwargs)
        except ApiException as e:  # older clients raise for non-2xx themselves
            if e.status == _GONE:
                return _Gone()
            raise _error(_what(source), e.status, e.body) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            host = self._api.api_client.configuration.host
            raise _Unreachable(f"cannot reach the API server at {escape(host)} "
                               f"({_network_reason(e)})") from None

    # -- applying (caller's thread) -------------------------------------------------------

    def _apply(self, kind: str, source: Source, payload) -> bool:
        if kind == "list":
            return self._apply_list(source, payload, None)
        resource = source[0]
        etype, obj = payload
        if resource == "nodes":
            return self._node(obj, deleted=etype == "DELETED")
        if resource == "services":
            return self._service(obj, deleted=etype == "DELETED", now=self._clock())
        return self._pod(obj, deleted=etype == "DELETED", now=self._clock())

    def _apply_list(self, source: Source, items: list[dict], rv: str | None) -> bool:
        """A full list: apply every object; pods and services we hold (in its namespace) that
        are gone from it have ended."""
        if rv is not None:
            self._rv[source] = rv
        resource, ns = source
        if resource == "nodes":
            return any([self._node(obj) for obj in items])
        now = self._clock()
        seen = {_uid(obj) for obj in items}
        apply = self._service if resource == "services" else self._pod
        changed = [apply(obj, now=now) for obj in items]
        held = self._held[resource]
        gone = [uid for uid, h in list(held.items())
                if uid not in seen and (not ns or h.info.ns == ns)]
        changed += [self._release(held, uid, now) for uid in gone]
        if resource == "pods" and self.on_pod is not None:
            for uid in gone:  # deleted while the watch was away: all we know is who
                self.on_pod({"metadata": {"uid": uid}}, True)
        return any(changed)

    def _pod(self, pod: dict, now: int, deleted: bool = False) -> bool:
        if self.on_pod is not None:
            self.on_pod(pod, deleted)
        uid = _uid(pod)
        meta, spec, status = (_dict(pod, k) for k in ("metadata", "spec", "status"))
        node, host_ip = str(spec.get("nodeName") or ""), _canonical(status.get("hostIP"))
        if node and host_ip:
            self._nodes.setdefault(host_ip, node)
            self.pods.add_node(host_ip, node)
        ended = deleted or status.get("phase") in _ENDED_PHASES
        ips = () if ended or spec.get("hostNetwork") else _pod_ips(status)
        info = PodInfo(ns=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                       node=node, node_ip=host_ip or "")
        since = min(_time_ns(status.get("startTime")) or _time_ns(
            meta.get("creationTimestamp")) or now, now)
        held = self._held["pods"]
        if ended and uid not in held and uid not in self._past:
            return self._add_past(uid, info, status, since)
        return self._hold(held, uid, ips, info, since, now)

    def _service(self, svc: dict, now: int, deleted: bool = False) -> bool:
        meta, spec = _dict(svc, "metadata"), _dict(svc, "spec")
        ips = () if deleted else tuple(dict.fromkeys(filter(None, map(_canonical, [
            *(spec.get("clusterIPs") or ()), spec.get("clusterIP")]))))
        info = PodInfo(ns=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
                       kind="service")
        since = min(_time_ns(meta.get("creationTimestamp")) or now, now)
        return self._hold(self._held["services"], _uid(svc), ips, info, since, now)

    def _hold(self, held: dict[str, _Held], uid: str, ips: tuple[str, ...], info: PodInfo,
              since: int, now: int) -> bool:
        """uid now holds ips as info (none: it holds nothing); False when nothing changed."""
        old = held.get(uid)
        unchanged = (old.ips, old.info) == (ips, info) if old else not ips
        if unchanged:
            return False
        self._release(held, uid, now)
        for ip in ips:
            self.pods.add(ip, info, since)
        if ips:
            held[uid] = _Held(ips, info)
        return True

    def _add_past(self, uid: str, info: PodInfo, status: dict, since: int) -> bool:
        """A pod that had finished before we saw it: its addresses for its lifetime only."""
        self._past.add(uid)
        until = _finished_ns(status)
        if until is None:
            return False
        for ip in _pod_ips(status):
            self.pods.add(ip, info, since, until)
        return False

    def _release(self, held: dict[str, _Held], uid: str, now: int) -> bool:
        old = held.pop(uid, None)
        for ip in old.ips if old else ():
            self.pods.end(ip, now)
        return old is not None

    def _node(self, node: dict, deleted: bool = False) -> bool:
        name = str(_dict(node, "metadata").get("name") or "")
        changed = False
        for addr in _dict(node, "status").get("addresses") or ():
            ip = _canonical(addr.get("address")) if isinstance(addr, dict) and \
                addr.get("type") in _NODE_ADDRESS_TYPES else None
            if not ip or not name:
                continue
            if deleted:
                changed |= self._nodes.pop(ip, None) is not None
            elif self._nodes.get(ip) != name:
                self._nodes[ip] = name
                self.pods.add_node(ip, name)
                changed = True
        return changed


class _Unreachable(ClusterError):
    """The API server could not be reached or the connection broke: worth retrying a watch."""


class _Forbidden(ClusterError):
    """The user may not list or watch the resource (HTTP 401/403)."""


class _Gone:
    """Stands for a 410 response when the client raised it instead of returning it."""

    status = _GONE

    def release_conn(self) -> None:
        """Nothing to release."""


def _what(source: Source) -> str:
    """A source as messages name it: "pods", "pods in namespace shop"."""
    resource, ns = source
    return f"{resource} in namespace {ns}" if ns else resource


def _check(resp, resource: str) -> None:
    if not 200 <= resp.status < 300:
        raise _error(resource, resp.status, resp.data)


def _error(resource: str, status: int, body: bytes | str | None) -> ClusterError:
    kind = _Forbidden if status in (401, 403) else ClusterError
    return kind(f"listing {resource}: {_api_text(status, body)}")


def _api_text(status: int, body: bytes | str | None) -> str:
    """The API's own reason ("pods is forbidden: User ... cannot list ...") when it sent one."""
    try:
        message = json.loads(body or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    hint = " (check RBAC: get/list/watch on pods)" if status in (401, 403) else ""
    return f"HTTP {status}: {escape(str(message or body or '')[:300])}{hint}"


def _status_text(obj: dict) -> str:
    return escape(f"{obj.get('code')} {obj.get('reason')}: {obj.get('message')}")


def _lines(resp) -> Iterator[bytes]:
    """Newline-delimited watch events, however the stream is chunked."""
    pending = b""
    for chunk in resp.stream(65536, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


def _network_reason(e: Exception) -> str:
    """"[Errno 111] Connection refused" rather than urllib3's nested retry report."""
    reason = getattr(e, "reason", None) or e
    return escape(str(reason).rsplit(": ", 1)[-1] or type(e).__name__)


def _uid(obj: dict) -> str:
    meta = _dict(obj, "metadata")
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


def _pod_ips(status: dict) -> tuple[str, ...]:
    raw = [e.get("ip") for e in status.get("podIPs") or () if isinstance(e, dict)]
    raw.append(status.get("podIP"))
    ips: list[str] = []
    for text in raw:
        ip = _canonical(text)
        if ip and ip not in ips:
            ips.append(ip)
    return tuple(ips)


def _canonical(text: object) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return canonical_ip(text)
    except ValueError:
        return None


def _time_ns(text: object) -> int | None:
    """An API time ("2022-03-08T18:54:18Z") as ns since the epoch."""
    if not isinstance(text, str):
        return None
    try:
        parsed = time.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(parsed) * 1_000_000_000


def _finished_ns(status: dict) -> int | None:
    """When the last container of a finished pod terminated."""
    ends = [_time_ns(_dict(_dict(cs, "state"), "terminated").get("finishedAt"))
            for cs in status.get("containerStatuses") or ()]
    ends = [e for e in ends if e]
    return max(ends) if ends else None


def _dict(obj: dict, key: str) -> dict:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}
