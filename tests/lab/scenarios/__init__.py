"""The lab's scenarios: Kubernetes manifests (dicts) the lab API server creates at start."""

from __future__ import annotations

from collections.abc import Callable

from tests.lab.scenarios import log4shell

SCENARIO_MODULES = {"log4shell": log4shell}
SCENARIOS: dict[str, Callable[[], list[dict]]] = {
    name: module.manifests for name, module in SCENARIO_MODULES.items()
}


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


def nodes_needed(name: str) -> int:
    """How many nodes the scenario needs to place its pods where it says (2 if it is silent)."""
    if name not in SCENARIOS:
        load(name)  # raises the error naming the known scenarios
    return getattr(SCENARIO_MODULES.get(name), "NODES", 2)
