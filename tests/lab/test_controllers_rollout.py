"""StatefulSets, DaemonSets and Deployments start and roll their pods as the real controllers
do, driven by real kubectl: ordered start, `kubectl rollout restart` and `kubectl rollout status`.

The order of what happened is read back from a pod watch resumed at the resourceVersion taken
before the action: each pod's creation, first Ready, start of deletion and removal, in event
order.
"""

from __future__ import annotations

import json

from tests.lab import fixtures

lab, lab_ns, kubectl_bin = fixtures.lab, fixtures.lab_ns, fixtures.kubectl_bin


def _apply(lab, kubectl_bin, ns: str, manifest: dict) -> None:
    stdin = json.dumps(manifest).encode()
    run = lab.kubectl(kubectl_bin, "-n", ns, "apply", "-f", "-", stdin=stdin)
    assert run.returncode == 0, run.stderr.decode()


def _kubectl(lab, kubectl_bin, ns: str, *args: str) -> str:
    run = lab.kubectl(kubectl_bin, "-n", ns, *args)
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout.decode()


def _rollout_status(lab, kubectl_bin, ns: str, target: str) -> str:
    """`kubectl rollout status` until done; its last line."""
    out = _kubectl(lab, kubectl_bin, ns, "rollout", "status", target, "--timeout=120s")
    return out.strip().splitlines()[-1]


def _pods(lab, ns: str) -> dict[str, dict]:
    """The namespace's pods by name, leaving out those being deleted."""
    _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
    return {p["metadata"]["name"]: p for p in body["items"]
            if "deletionTimestamp" not in p["metadata"]}


def _sts(lab, ns: str, name: str) -> dict:
    _, sts = lab.request("GET", f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}")
    return sts


def _never_ready(manifest: dict) -> dict:
    """The workload with an image from a registry that does not exist (ErrImagePull)."""
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.invalid/never:1"
    return manifest


def _pulls_back_off(pod: dict) -> bool:
    statuses = pod["status"].get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting", {}).get("reason") == "ImagePullBackOff"


def _resource_version(lab, ns: str) -> str:
    _, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods")
    return body["metadata"]["resourceVersion"]


def _ready(pod: dict) -> bool:
    conds = pod["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def _events(lab, ns: str, since: str) -> list[dict]:
    """The namespace's pod watch events from resourceVersion `since` until now."""
    path = f"/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={since}&timeoutSeconds=1"
    return list(lab.watch(path))


def _marks(lab, ns: str, since: str) -> list[tuple[str, str, str]]:
    """(what, pod name, uid) in the order pod events showed them: 'added', 'ready' (first time
    Ready), 'deleting' (deletionTimestamp set), 'gone' (deleted)."""
    marks: list[tuple[str, str, str]] = []
    for event in _events(lab, ns, since):
        pod = event["object"]
        meta = pod["metadata"]
        for what, happened in (
            ("added", True),
            ("ready", _ready(pod)),
            ("deleting", "deletionTimestamp" in meta),
            ("gone", event["type"] == "DELETED"),
        ):
            mark = (what, meta["name"], meta["uid"])
            if happened and mark not in marks:
                marks.append(mark)
    return marks


def test_an_ordered_statefulset_creates_each_pod_once_the_previous_one_is_ready(
    lab, lab_ns, kubectl_bin
):
    since = _resource_version(lab, lab_ns)
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("StatefulSet", "db", 3))
    assert _rollout_status(lab, kubectl_bin, lab_ns, "sts/db") == (
        "partitioned roll out complete: 3 new pods have been updated..."
    )

    order = [(what, name) for what, name, _ in _marks(lab, lab_ns, since)]
    assert order == [
        ("added", "db-0"), ("ready", "db-0"),
        ("added", "db-1"), ("ready", "db-1"),
        ("added", "db-2"), ("ready", "db-2"),
    ]  # fmt: skip


def test_an_ordered_statefulset_waits_for_a_pod_that_never_gets_ready(lab, lab_ns, kubectl_bin):
    _apply(lab, kubectl_bin, lab_ns, _never_ready(fixtures.workload("StatefulSet", "db", 3)))
    lab.wait_for_pod(lab_ns, "db-0", _pulls_back_off)

    assert list(_pods(lab, lab_ns)) == ["db-0"]


def test_a_parallel_statefulset_creates_all_its_pods_without_waiting(lab, lab_ns, kubectl_bin):
    manifest = fixtures.workload("StatefulSet", "db", 3, podManagementPolicy="Parallel")
    _apply(lab, kubectl_bin, lab_ns, _never_ready(manifest))

    for name in ("db-0", "db-1", "db-2"):
        lab.wait_for_pod(lab_ns, name, _pulls_back_off)


def test_rollout_restart_of_a_statefulset_ends_with_every_pod_at_the_new_revision(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("StatefulSet", "db", 2))
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")
    old_revision = _sts(lab, lab_ns, "db")["status"]["currentRevision"]
    old_uids = {name: p["metadata"]["uid"] for name, p in _pods(lab, lab_ns).items()}

    restart = _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    done = _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    assert restart == "statefulset.apps/db restarted\n"
    assert done == "partitioned roll out complete: 2 new pods have been updated..."
    status = _sts(lab, lab_ns, "db")["status"]
    assert status["currentRevision"] == status["updateRevision"] != old_revision
    counts = ("observedGeneration", "replicas", "readyReplicas", "updatedReplicas",
              "currentReplicas")
    assert [status[k] for k in counts] == [2, 2, 2, 2, 2]
    pods = _pods(lab, lab_ns)
    assert sorted(pods) == ["db-0", "db-1"]
    for name, pod in pods.items():
        assert pod["metadata"]["uid"] != old_uids[name]
        assert pod["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]


def test_a_statefulset_rolls_from_the_highest_ordinal_each_new_pod_ready_before_the_next_goes(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("StatefulSet", "db", 3))
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")
    old_uids = {p["metadata"]["uid"] for p in _pods(lab, lab_ns).values()}
    since = _resource_version(lab, lab_ns)

    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    steps = [(what, name) for what, name, uid in _marks(lab, lab_ns, since)
             if (what == "deleting") == (uid in old_uids) and what != "added"]
    assert steps == [
        ("deleting", "db-2"), ("ready", "db-2"),
        ("deleting", "db-1"), ("ready", "db-1"),
        ("deleting", "db-0"), ("ready", "db-0"),
    ]  # fmt: skip


def test_a_partition_keeps_the_pods_below_it_at_the_current_revision(lab, lab_ns, kubectl_bin):
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    _apply(lab, kubectl_bin, lab_ns,
           fixtures.workload("StatefulSet", "db", 3, updateStrategy=strategy))
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")
    old_revision = _sts(lab, lab_ns, "db")["status"]["currentRevision"]
    old_uids = {name: p["metadata"]["uid"] for name, p in _pods(lab, lab_ns).items()}

    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    done = _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    assert done == "partitioned roll out complete: 1 new pods have been updated..."
    status = _sts(lab, lab_ns, "db")["status"]
    assert (status["currentRevision"], status["currentReplicas"]) == (old_revision, 2)
    pods = _pods(lab, lab_ns)
    revisions = {name: p["metadata"]["labels"]["controller-revision-hash"]
                 for name, p in pods.items()}
    assert revisions == {"db-0": old_revision, "db-1": old_revision,
                         "db-2": status["updateRevision"]}
    assert [pods[n]["metadata"]["uid"] == old_uids[n] for n in sorted(pods)] == [
        True, True, False]


def test_an_on_delete_statefulset_takes_the_new_template_only_for_a_deleted_pod(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns,
           fixtures.workload("StatefulSet", "db", 2, updateStrategy={"type": "OnDelete"}))
    lab.wait_for_pod(lab_ns, "db-1", _ready)
    old_uids = {name: p["metadata"]["uid"] for name, p in _pods(lab, lab_ns).items()}

    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    kept = _pods(lab, lab_ns)  # the controller synced the update before kubectl got its answer
    # not kubectl's own wait: it lists by name after its first look, and a db-1 recreated
    # in between (same name, new uid) leaves it waiting for a deletion that already happened
    _kubectl(lab, kubectl_bin, lab_ns, "delete", "pod", "db-1", "--wait=false")
    new = lab.wait_for_pod(lab_ns, "db-1", lambda p: p["metadata"]["uid"] != old_uids["db-1"])

    status = _sts(lab, lab_ns, "db")["status"]
    assert {n: p["metadata"]["uid"] for n, p in kept.items()} == old_uids
    assert new["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
    assert "kubectl.kubernetes.io/restartedAt" in new["metadata"]["annotations"]
    db0 = _pods(lab, lab_ns)["db-0"]
    assert db0["metadata"]["uid"] == old_uids["db-0"]
    assert db0["metadata"]["labels"]["controller-revision-hash"] == status["currentRevision"]


def test_rollout_status_of_an_on_delete_statefulset_is_refused(lab, lab_ns, kubectl_bin):
    _apply(lab, kubectl_bin, lab_ns,
           fixtures.workload("StatefulSet", "db", 1, updateStrategy={"type": "OnDelete"}))

    run = lab.kubectl(kubectl_bin, "-n", lab_ns, "rollout", "status", "sts/db")

    assert run.returncode == 1
    assert run.stderr.decode() == (
        "error: rollout status is only available for RollingUpdate strategy type\n")


def test_rollout_restart_of_a_daemonset_replaces_one_node_at_a_time(lab, lab_ns, kubectl_bin):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("DaemonSet", "agent", None))
    _rollout_status(lab, kubectl_bin, lab_ns, "ds/agent")
    old = {p["metadata"]["uid"]: p["spec"]["nodeName"] for p in _pods(lab, lab_ns).values()}
    since = _resource_version(lab, lab_ns)

    restart = _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "ds/agent")
    done = _rollout_status(lab, kubectl_bin, lab_ns, "ds/agent")

    assert restart == "daemonset.apps/agent restarted\n"
    assert done == 'daemon set "agent" successfully rolled out'
    pods = _pods(lab, lab_ns)
    nodes = {p["metadata"]["uid"]: p["spec"]["nodeName"] for p in pods.values()}
    steps = [(what, {**old, **nodes}[uid]) for what, _, uid in _marks(lab, lab_ns, since)
             if (what == "deleting") == (uid in old) and what != "added"]
    first, second = sorted(set(old.values()), key=lambda n: steps.index(("deleting", n)))
    assert steps == [("deleting", first), ("ready", first), ("deleting", second),
                     ("ready", second)]
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in pods.values()} == {"2"}


def test_rollout_restart_of_a_deployment_keeps_it_within_max_surge_and_max_unavailable(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("Deployment", "web", 2))
    _rollout_status(lab, kubectl_bin, lab_ns, "deploy/web")
    old_uids = {p["metadata"]["uid"] for p in _pods(lab, lab_ns).values()}
    since = _resource_version(lab, lab_ns)

    restart = _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "deploy/web")
    done = _rollout_status(lab, kubectl_bin, lab_ns, "deploy/web")

    assert restart == "deployment.apps/web restarted\n"
    assert done == 'deployment "web" successfully rolled out'
    pods = {p["metadata"]["uid"]: p for p in _pods(lab, lab_ns).values()}
    alive = {uid: True for uid in old_uids}  # uid -> Ready, of the pods not being deleted
    most, fewest_ready = 0, 2
    for event in _events(lab, lab_ns, since):  # defaults for 2 replicas: surge 1, unavailable 0
        pod = event["object"]
        if event["type"] == "DELETED" or "deletionTimestamp" in pod["metadata"]:
            alive.pop(pod["metadata"]["uid"], None)
        else:
            alive[pod["metadata"]["uid"]] = _ready(pod)
        most, fewest_ready = max(most, len(alive)), min(fewest_ready, sum(alive.values()))
    assert (most, fewest_ready) == (3, 2)
    assert len(pods) == 2 and not set(pods) & old_uids


def test_a_recreate_deployment_starts_new_pods_once_the_old_ones_have_stopped(
    lab, lab_ns, kubectl_bin
):
    manifest = fixtures.workload("Deployment", "web", 2, strategy={"type": "Recreate"})
    _apply(lab, kubectl_bin, lab_ns, manifest)
    _rollout_status(lab, kubectl_bin, lab_ns, "deploy/web")
    old_uids = {p["metadata"]["uid"] for p in _pods(lab, lab_ns).values()}
    since = _resource_version(lab, lab_ns)

    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "deploy/web")
    _rollout_status(lab, kubectl_bin, lab_ns, "deploy/web")

    order = []  # ("stopped", uid) of an old pod (terminal phase, or removed); ("added", uid)
    for event in _events(lab, lab_ns, since):
        pod, uid = event["object"], event["object"]["metadata"]["uid"]
        if uid not in old_uids:
            mark = ("added", uid)
        elif event["type"] == "DELETED" or pod["status"].get("phase") in ("Succeeded", "Failed"):
            mark = ("stopped", uid)
        else:
            continue
        if mark not in order:
            order.append(mark)
    assert [what for what, _ in order] == ["stopped", "stopped", "added", "added"]


def _revisions(lab, ns: str) -> dict[str, int]:
    """The namespace's ControllerRevisions: name -> revision number."""
    _, body = lab.request("GET", f"/apis/apps/v1/namespaces/{ns}/controllerrevisions")
    return {r["metadata"]["name"]: r["revision"] for r in body["items"]}


def test_rollout_history_lists_a_statefulsets_revisions_and_undo_goes_back_to_the_first(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("StatefulSet", "db", 2))
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")
    first = _sts(lab, lab_ns, "db")["status"]["currentRevision"]
    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")
    second = _sts(lab, lab_ns, "db")["status"]["currentRevision"]

    history = _kubectl(lab, kubectl_bin, lab_ns, "rollout", "history", "sts/db")
    undo = _kubectl(lab, kubectl_bin, lab_ns, "rollout", "undo", "sts/db")
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    assert [line.split() for line in history.splitlines()[1:] if line] == [
        ["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "<none>"]]
    assert undo == "statefulset.apps/db rolled back\n"
    assert _revisions(lab, lab_ns) == {first: 3, second: 2}
    labels = [p["metadata"]["labels"] for p in _pods(lab, lab_ns).values()]
    assert [label["controller-revision-hash"] for label in labels] == [first, first]


def test_deleting_a_daemonset_deletes_its_revisions(lab, lab_ns, kubectl_bin):
    _apply(lab, kubectl_bin, lab_ns, fixtures.workload("DaemonSet", "agent", None))
    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "ds/agent")
    assert len(_revisions(lab, lab_ns)) == 2

    _kubectl(lab, kubectl_bin, lab_ns, "delete", "ds/agent")

    assert _revisions(lab, lab_ns) == {}


def test_revisions_beyond_the_history_limit_are_deleted_once_no_pod_uses_them(
    lab, lab_ns, kubectl_bin
):
    _apply(lab, kubectl_bin, lab_ns,
           fixtures.workload("StatefulSet", "db", 1, revisionHistoryLimit=0))
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    _kubectl(lab, kubectl_bin, lab_ns, "rollout", "restart", "sts/db")
    _rollout_status(lab, kubectl_bin, lab_ns, "sts/db")

    assert list(_revisions(lab, lab_ns)) == [_sts(lab, lab_ns, "db")["status"]["currentRevision"]]
