"""Scenario `log4shell`: a Log4Shell attack chain across nodes, amid benign traffic.

Namespace `demo`, three nodes: `web` (node-1) is the vulnerable Java service; `ldap` (node-2) is
the attacker's LDAP server plus the HTTP server for the class; `attacker` (node-3) sends an
obfuscated exploit every few seconds; `client` (node-3) sends ordinary requests.

Pods find each other by fixed IPs: a node hands out pod IPs lowest first, and `web` and `ldap`
are each the only pod of their node, so they get WEB_IP and LDAP_IP whatever order pods start in.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMESPACE = "demo"
NODES = 3
WEB_IP, WEB_PORT = "10.244.1.2", 8080
LDAP_IP, LDAP_PORT = "10.244.2.2", 1389
JDK_IMAGE, PY_IMAGE = "eclipse-temurin:17-jdk", "python:3.11-slim"
JAVA_OPTS = [
    "-Dcom.sun.jndi.ldap.object.trustURLCodebase=true",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
]


def manifests() -> list[dict]:
    """The Namespace, then the Pods."""
    web, ldap = f"{WEB_IP}:{WEB_PORT}", f"{LDAP_IP}:{LDAP_PORT}"
    java = ["java", *JAVA_OPTS, str(HERE / "Victim.java")]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        _pod("web", "node-1", JDK_IMAGE, java, {"PORT": str(WEB_PORT)}, WEB_PORT),
        _pod("ldap", "node-2", PY_IMAGE, _python("ldap_server.py"), {}, LDAP_PORT),
        _pod(
            "attacker",
            "node-3",
            PY_IMAGE,
            _python("attacker.py"),
            {"WEB_ADDR": web, "LDAP_ADDR": ldap, "INTERVAL": "3"},
        ),
        _pod(
            "client", "node-3", PY_IMAGE, _python("client.py"), {"WEB_ADDR": web, "INTERVAL": "1"}
        ),
    ]


def _python(script: str) -> list[str]:
    return ["python3", "-u", str(HERE / script)]


def _pod(
    name: str,
    node: str,
    image: str,
    command: list[str],
    env: dict[str, str],
    port: int | None = None,
) -> dict:
    container = {
        "name": name,
        "image": image,
        "command": command,
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    if port:
        container["ports"] = [{"containerPort": port, "protocol": "TCP"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
        "spec": {"nodeName": node, "restartPolicy": "Always", "containers": [container]},
    }
