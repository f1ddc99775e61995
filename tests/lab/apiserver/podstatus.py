"""Pod status as a kubelet writes it (conditions, container states, phase) and as controllers
read it (ready, terminating)."""

from __future__ import annotations

from datetime import datetime, timezone

from . import images


def now() -> str:
    """An RFC 3339 timestamp with second precision, as metav1.Time serialises."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(pod: dict, kind: str, status: str, reason: str = "") -> None:
    """Set a pod condition, stamping lastTransitionTime only when its status changes."""
    conds = pod["status"].setdefault("conditions", [])
    for c in conds:
        if c["type"] == kind:
            if c["status"] != status:
                c.update(status=status, lastTransitionTime=now())
            if reason:
                c["reason"] = reason
            return
    entry = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now()}
    if reason:
        entry["reason"] = reason
    conds.append(entry)


def waiting(container: dict, reason: str) -> dict:
    """A fresh container status, waiting for `reason`."""
    return {
        "name": container["name"],
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": images.normalise(container["image"]),
        "imageID": "",
        "started": False,
    }


def terminated(code: int, started: str, cid: str, message: str = "") -> dict:
    """A terminated state: StartError when the runtime could not start it, else by exit code."""
    reason = "StartError" if message else ("Completed" if code == 0 else "Error")
    state = {
        "exitCode": code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": now(),
        "containerID": cid,
    }
    if message:
        state["message"] = message
    return state


def is_ready(pod: dict) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    conds = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def is_terminating(pod: dict) -> bool:
    """Deletion has begun (metadata.deletionTimestamp is set)."""
    return bool(pod["metadata"].get("deletionTimestamp"))


def has_ended(pod: dict) -> bool:
    """The phase is terminal: Succeeded or Failed."""
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: dict) -> bool:
    """controller.IsPodActive: neither ended nor being deleted."""
    return not (has_ended(pod) or is_terminating(pod))


def refresh_phase(pod: dict) -> None:
    """Pending while a container waits to run for the first time, then Running (getPhase)."""
    st = pod["status"]
    statuses = st.get("containerStatuses", [])
    if st.get("phase") in ("Succeeded", "Failed") or not statuses:
        return
    first_wait = any("waiting" in cs["state"] and not cs.get("lastState") for cs in statuses)
    st["phase"] = "Pending" if first_wait else "Running"
    ready = "True" if all(cs.get("ready") for cs in statuses) else "False"
    condition(pod, "Ready", ready)
    condition(pod, "ContainersReady", ready)


def finish_if_done(pod: dict) -> None:
    """Succeeded or Failed once every container has terminated for good."""
    statuses = pod["status"].get("containerStatuses", [])
    if not statuses or not all("terminated" in cs["state"] for cs in statuses):
        return
    if all(cs["state"]["terminated"]["exitCode"] == 0 for cs in statuses):
        pod["status"]["phase"] = "Succeeded"
        condition(pod, "Ready", "False", "PodCompleted")
        condition(pod, "ContainersReady", "False", "PodCompleted")
    else:
        fail(pod, "", "")


def fail(pod: dict, reason: str, message: str) -> None:
    """Phase Failed, with the pod-level reason and message when given (e.g. DeadlineExceeded)."""
    st = pod["status"]
    st["phase"] = "Failed"
    if reason:
        st.update(reason=reason, message=message)
    condition(pod, "Ready", "False", "PodFailed")
    condition(pod, "ContainersReady", "False", "PodFailed")


def kill_all(pod: dict, code: int) -> None:
    """Every container not yet terminated is now terminated with `code` (killed)."""
    st = pod["status"]
    for cs in (
        st.get("initContainerStatuses", [])
        + st.get("containerStatuses", [])
        + st.get("ephemeralContainerStatuses", [])
    ):
        if "terminated" not in cs["state"]:
            running = cs["state"].get("running", {})
            cs["state"] = {
                "terminated": {
                    "exitCode": code,
                    "reason": "Error",
                    "startedAt": running.get("startedAt"),
                    "finishedAt": now(),
                    "containerID": cs.get("containerID", ""),
                }
            }
        cs["ready"] = cs["started"] = False
