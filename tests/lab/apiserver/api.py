"""Dispatch: authorization, then the handler for the resource and verb the request addresses."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from . import (
    access,
    apps,
    discovery,
    listing,
    objects,
    pods,
    podsecurity,
    routing,
    schema,
    serviceaccounts,
    services,
    subresources,
    tables,
    taints,
    workloads,
)
from .kubelet import Kubelet
from .messages import Request, Response, ok, warning_headers
from .podstatus import now
from .rbac import Attributes, Policy
from .status import ApiError, conflict, forbidden, method_not_allowed
from .store import Store

_PUBLIC = {"/version", "/healthz", "/livez", "/readyz"}


class Api:
    """The API server's request handling, independent of HTTP."""

    def __init__(
        self, store: Store, policy: Policy, kubelet: Kubelet, runtime: Any, address: str
    ) -> None:
        self.store, self.policy, self.kubelet = store, policy, kubelet
        self.runtime, self.address = runtime, address
        self._service_ips = services.ClusterIPs(store)
        self.apps = workloads.Controller(
            store, lambda: sorted(self.kubelet.nodes), lambda pod: self._delete_pod(pod, {})
        )
        self.taint_eviction = taints.TaintEviction(store, lambda pod: self._delete_pod(pod, {}))
        self.accounts = serviceaccounts.Controller(store)

    # entry ---------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """Answer one authenticated request (errors as Status bodies)."""
        try:
            info = routing.parse(req.method, req.path, req.flag("watch"))
            if not info.resource_request:
                return self._non_resource(req)
            self.authorize(req, info.verb, info)
            return self._resource(req, info)
        except ApiError as e:
            return ok(e.status(), e.code)

    def authorize(self, req: Request, verb: str, info: routing.RequestInfo) -> None:
        """Forbidden (with the RBAC authorizer's text) unless the user may do `verb`."""
        attrs = Attributes(
            req.user, verb, info.group, info.resource, info.subresource, info.namespace, info.name
        )
        if not self.policy.allowed(attrs, req.groups):
            raise attrs.forbidden()

    def _non_resource(self, req: Request) -> Response:
        if req.user == "system:anonymous" and req.path not in _PUBLIC:
            raise ApiError(
                "Forbidden",
                f'forbidden: User "system:anonymous" cannot {req.method.lower()} path "{req.path}"',
                {},
            )
        docs = {
            "/version": discovery.VERSION,
            "/api": discovery.api_versions(self.address),
            "/apis": discovery.APIS,
            "/api/v1": discovery.CORE_V1,
            "/apis/apps": apps.GROUP_DOC,
            "/apis/apps/v1": apps.RESOURCES_DOC,
            "/apis/authorization.k8s.io": discovery.AUTHZ_GROUP,
            "/apis/authorization.k8s.io/v1": discovery.AUTHZ_V1,
            "/openapi/v3": discovery.OPENAPI_ROOT,
            **{f"/openapi/v3/{path}": doc for path, doc in discovery.OPENAPI.items()},
        }
        if req.method == "GET" and req.path in docs:
            return ok(docs[req.path])
        if req.method == "GET" and req.path in ("/healthz", "/livez", "/readyz"):
            return Response(body=b"ok", content_type="text/plain; charset=utf-8")
        return Response(
            code=404, body=b"404 page not found\n", content_type="text/plain; charset=utf-8"
        )

    # resources -----------------------------------------------------------------------------------

    def _resource(self, req: Request, info: routing.RequestInfo) -> Response:
        if info.resource == "selfsubjectaccessreviews":
            return access.review(self.policy, req, info)
        if info.subresource:
            return self._subresource(req, info)
        ns = info.namespace if info.resource in routing.NAMESPACED else ""
        if info.verb == "list":
            return listing.list_response(self.store, req, info.resource, ns)
        if info.verb == "watch":
            return listing.watch_response(self.store, req, info.resource, ns)
        if info.verb == "get":
            return self._get(req, info.resource, ns, info.name)
        if info.verb == "create":
            return self._create(req, info.resource, ns)
        if info.verb in ("update", "patch"):
            return self._update(req, info.resource, ns, info.name, info.verb)
        if info.verb == "delete":
            return self._delete(req, info.resource, ns, info.name)
        if info.verb == "deletecollection" and info.resource in routing.NAMESPACED:
            return self._delete_collection(req, info.resource, ns)
        raise method_not_allowed(info.verb, info.resource)

    def _delete_collection(self, req: Request, resource: str, ns: str) -> Response:
        """Delete every object matching the selectors; answers the list of what was deleted."""
        match = listing.selector(req, resource)
        opts = objects.delete_options(req)
        items, _ = self.store.list(resource, ns)
        deleted = []
        for obj in filter(match, items):
            meta = obj["metadata"]
            with contextlib.suppress(ApiError):  # gone meanwhile
                deleted.append(
                    self._delete_pod(obj, opts)
                    if resource == "pods"
                    else self.store.delete(resource, meta["namespace"], meta["name"])
                )
                if resource in apps.KINDS:
                    self.apps.deleted(deleted[-1])
        kind = schema.KINDS[resource][0]
        return ok(
            {
                "kind": f"{kind}List",
                "apiVersion": schema.api_version(resource),
                "metadata": {"resourceVersion": self.store.resource_version},
                "items": deleted,
            }
        )

    def _get(self, req: Request, resource: str, ns: str, name: str) -> Response:
        obj = self.store.get(resource, ns, name)
        if req.wants_table():
            return ok(
                tables.table(
                    resource,
                    [obj],
                    obj["metadata"]["resourceVersion"],
                    req.param("includeObject", "Metadata"),
                )
            )
        return ok(obj)

    def _create(self, req: Request, resource: str, ns: str) -> Response:
        if resource == "nodes":
            raise method_not_allowed("create", resource)
        obj, warnings = objects.decode(req, resource, req.json())
        meta = obj.setdefault("metadata", {})
        requested = meta.get("name") or meta.get("generateName", "")  # admission's name for it
        objects.new_meta(obj, ns, obj["kind"])
        if ns:
            namespace = objects.check_namespace(self.store, resource, obj["metadata"]["name"], ns)
        if resource == "pods":
            pods.default_pod(obj)
            serviceaccounts.admit(self.store, obj, ns, requested)
            pods.validate_pod(obj)
            podsecurity.check(namespace, obj)
            warnings += podsecurity.warnings(namespace, obj)
        elif resource == "services":
            services.default(obj, self._service_ips)
        elif resource in apps.KINDS:
            apps.default_and_validate(resource, obj)
        elif resource == "namespaces":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
                "metadata"
            ]["name"]
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        if objects.dry_run(req):
            return ok(obj, 201, **warning_headers(warnings))
        created = self.store.create(resource, obj)
        if resource == "namespaces":  # the controller's work, done at once: pods may follow now
            self.accounts.ensure(obj["metadata"]["name"])
        if resource in apps.KINDS:
            self.apps.reconcile(resource, created)
            created = self.store.find(resource, ns, obj["metadata"]["name"]) or created
        return ok(created, 201, **warning_headers(warnings))

    def _update(self, req: Request, resource: str, ns: str, name: str, verb: str) -> Response:
        old = self.store.get(resource, ns, name)
        if verb == "patch":
            new, warnings = objects.decode(req, resource, objects.patched(req, resource, old))
        else:
            new, warnings = objects.decode(req, resource, req.json())
        expect = new.get("metadata", {}).get("resourceVersion")
        if expect and expect != old["metadata"]["resourceVersion"]:
            raise conflict(
                resource,
                name,
                "the object has been modified; please apply your "
                "changes to the latest version and try again",
            )
        new = objects.merge_update(resource, old, new)
        if resource in apps.KINDS:
            apps.validate_update(resource, old, new)
        if objects.dry_run(req):
            return ok(new, **warning_headers(warnings))
        stored = self.store.update(resource, new, expect)
        if resource in apps.KINDS:
            self.apps.reconcile(resource, stored)
            stored = self.store.find(resource, ns, name) or stored
        return ok(stored, **warning_headers(warnings))

    def _delete(self, req: Request, resource: str, ns: str, name: str) -> Response:
        opts = objects.delete_options(req)
        obj = self.store.get(resource, ns, name)
        uid = (opts.get("preconditions") or {}).get("uid")
        if uid and uid != obj["metadata"]["uid"]:
            raise ApiError(
                "Conflict",
                f'Operation cannot be fulfilled on {resource} "{name}": '
                f"Precondition failed: UID in precondition: {uid}, UID in object "
                f"meta: {obj['metadata']['uid']}",
                {"name": name, "kind": resource},
            )
        if objects.dry_run(req):
            return ok(obj)
        if resource == "pods":
            return ok(self._delete_pod(obj, opts))
        if resource == "namespaces":
            return ok(self._delete_namespace(obj))
        if resource == "nodes":
            raise method_not_allowed("delete", resource)
        deleted = self.store.delete(resource, ns, name)
        if resource in apps.KINDS:
            self.apps.deleted(deleted)
        return ok(deleted)

    def _delete_pod(self, pod: dict, opts: dict) -> dict:
        """Graceful deletion: mark with deletionTimestamp; the kubelet stops and removes it."""
        meta = pod["metadata"]
        grace = opts.get("gracePeriodSeconds")
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30) if grace is None else grace
        unscheduled = pod["spec"].get("nodeName") not in self.kubelet.nodes
        terminal = pod["status"].get("phase") in ("Succeeded", "Failed")
        if grace <= 0 or unscheduled or terminal:
            return self.store.delete("pods", meta["namespace"], meta["name"])
        current = meta.get("deletionGracePeriodSeconds")
        if current is not None and current <= grace:
            return pod

        def mark(p: dict) -> None:
            p["metadata"]["deletionTimestamp"] = now()
            p["metadata"]["deletionGracePeriodSeconds"] = grace

        return self.store.mutate("pods", meta["namespace"], meta["name"], mark) or pod

    def _delete_namespace(self, ns: dict) -> dict:
        name = ns["metadata"]["name"]
        if name in ("default", "kube-system", "kube-public"):
            raise forbidden("namespaces", name, "this namespace may not be deleted")

        def mark(o: dict) -> None:
            o["metadata"].setdefault("deletionTimestamp", now())
            o["status"]["phase"] = "Terminating"

        marked = self.store.mutate("namespaces", "", name, mark) or ns
        threading.Thread(target=self._finalize_namespace, args=(name,), daemon=True).start()
        return marked

    def _finalize_namespace(self, name: str) -> None:
        """The namespace controller: delete the contents, wait for the pods, then the namespace."""
        since = int(self.store.resource_version)
        for pod in self.store.list("pods", name)[0]:
            with contextlib.suppress(ApiError):  # already gone
                self._delete_pod(pod, {})
        for resource in (*apps.KINDS, "controllerrevisions", "services", "serviceaccounts"):
            for obj in self.store.list(resource, name)[0]:
                with contextlib.suppress(ApiError):
                    self.store.delete(resource, name, obj["metadata"]["name"])
        for _ in self.store.watch("pods", since, lambda: bool(self.store.list("pods", name)[0])):
            pass
        with contextlib.suppress(ApiError):
            self.store.delete("namespaces", "", name)

    # subresources --------------------------------------------------------------------------------

    def _subresource(self, req: Request, info: routing.RequestInfo) -> Response:
        return subresources.handle(self, req, info)
