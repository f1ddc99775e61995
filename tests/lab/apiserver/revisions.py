"""ControllerRevisions: the pod-template history StatefulSets and DaemonSets keep, after
pkg/controller/history and the two controllers' use of it.

One revision per distinct template, named OWNER-HASH (controller-revision-hash label HASH),
numbered in the order the templates were used: a template used again (`kubectl rollout undo`)
gets the next number. The data is the strategic merge patch that puts the template back, as
upstream stores it. Revisions that neither the status nor a pod uses are deleted, oldest first,
beyond spec.revisionHistoryLimit.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING

from .apps import API_VERSION, controller_ref, template_hash
from .podstatus import now

if TYPE_CHECKING:
    from .workloads import Controller

HASH_LABEL = "controller-revision-hash"


def current(ctl: Controller, owner: dict) -> tuple[dict, list[dict]]:
    """The revision of owner's template (created, or renumbered when an older one is used
    again), and all of owner's revisions by number."""
    meta = owner["metadata"]
    hash_ = template_hash(owner["spec"]["template"])
    name = f"{meta['name']}-{hash_}"
    history = sorted(ctl.owned("controllerrevisions", owner), key=lambda r: r["revision"])
    top = history[-1]["revision"] if history else 0
    revision = next((r for r in history if r["metadata"]["name"] == name), None)
    if revision is None:
        revision = ctl.store.create("controllerrevisions", _new(owner, name, hash_, top + 1))
        history.append(revision)
    elif revision["revision"] < top:

        def renumber(r: dict) -> None:
            r["revision"] = top + 1

        revision = ctl.store.mutate("controllerrevisions", meta["namespace"], name, renumber)
        history = sorted(ctl.owned("controllerrevisions", owner), key=lambda r: r["revision"])
    return revision, history


def template(revision: dict) -> dict:
    """The pod template a revision holds."""
    held = copy.deepcopy(revision["data"]["spec"]["template"])
    held.pop("$patch", None)
    return held


def prune(ctl: Controller, owner: dict, history: list[dict], live: set[str]) -> None:
    """truncateHistory: delete the oldest revisions whose name is not in `live`, beyond the
    owner's revisionHistoryLimit."""
    old = [r for r in history if r["metadata"]["name"] not in live]
    for revision in old[: max(0, len(old) - owner["spec"]["revisionHistoryLimit"])]:
        meta = revision["metadata"]
        ctl.store.delete("controllerrevisions", meta["namespace"], meta["name"])


def _new(owner: dict, name: str, hash_: str, number: int) -> dict:
    template_ = copy.deepcopy(owner["spec"]["template"])
    labels = dict((template_.get("metadata") or {}).get("labels") or {})
    meta = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "uid": str(uuid.uuid4()),
        "creationTimestamp": now(),
        "labels": {**labels, HASH_LABEL: hash_},
        "ownerReferences": [controller_ref(owner)],
    }
    if owner["metadata"].get("annotations"):  # kubernetes.io/change-cause among them
        meta["annotations"] = dict(owner["metadata"]["annotations"])
    return {
        "kind": "ControllerRevision",
        "apiVersion": API_VERSION,
        "metadata": meta,
        "data": {"spec": {"template": {**template_, "$patch": "replace"}}},
        "revision": number,
    }
