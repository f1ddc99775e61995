"""The lab's scenarios: Kubernetes manifests (dicts) the lab API server creates at start."""

from __future__ import annotations

from collections.abc import Callable

from tests.lab.scenarios import log4shell

SCENARIOS: dict[str, Callable[[], list[dict]]] = {"log4shell": log4shell.manifests}


def load(name: str) -> list[dict]:
    """The manifests of scenario `name` (Namespaces first, Pods in the order they must start).

    Raises ValueError naming the known scenarios when there is no such scenario.
    """
    try:
        build = SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {known}") from None
    return build()
