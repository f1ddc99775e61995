"""Which netmon container may be reused, and which are left over (pure, from pod objects)."""

from __future__ import annotations

import pytest

from kubectl_netmon.cluster.cleanup import running_containers
from kubectl_netmon.cluster.launch import reusable_container


def _pod(*containers: tuple[str, str]) -> dict:
    """A pod with ephemeral containers (name, state kind)."""
    return {
        "spec": {"ephemeralContainers": [{"name": n, "image": "i"} for n, _ in containers]},
        "status": {"ephemeralContainerStatuses": [{"name": n, "state": {s: {}}}
                                                  for n, s in containers]},
    }


@pytest.mark.parametrize(
    "containers, expected",
    [
        ((), None),
        ((("netmon-abcde", "running"),), "netmon-abcde"),
        ((("netmon-abcde", "terminated"),), None),
        ((("netmon-abcde", "waiting"),), None),
        ((("debugger-xyz", "running"),), None),
        ((("netmon-old", "terminated"), ("netmon-new", "running")), "netmon-new"),
    ],
)
def test_only_a_running_netmon_container_is_reused(containers, expected):
    assert reusable_container(_pod(*containers)) == expected


def test_leftover_containers_are_the_running_netmon_ones():
    pod = _pod(("netmon-a", "running"), ("netmon-b", "terminated"), ("debugger-c", "running"))
    assert running_containers(pod) == ["netmon-a"]
