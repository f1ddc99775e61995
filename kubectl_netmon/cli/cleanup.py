"""`kubectl netmon cleanup`: delete the capture pods netmon left, list its running containers.

Every namespace by default (node capture pods may be in any namespace given to --node-namespace);
-n limits it to one. --dry-run only lists.
"""

from __future__ import annotations

import click

from kubectl_netmon.cli.kubeflags import KubeFlags, kube_flags
from kubectl_netmon.cli.main import cli
from kubectl_netmon.errors import ClusterError


@cli.command()
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@kube_flags(namespace_help="Only this namespace (default: every namespace).")
def cleanup(dry_run: bool, kube: KubeFlags) -> None:
    """Remove netmon's leftover capture pods; list its ephemeral containers still running."""
    from kubectl_netmon.cluster import cleanup as leftovers

    api = kube.connect().client
    found = leftovers.find(api, kube.namespace or "")
    verb = "would delete" if dry_run else "deleted"
    failures = {} if dry_run else leftovers.remove(api, found)
    for ns, name, phase in found.pods:
        if (ns, name) not in failures:
            click.echo(f"{verb} pod {ns}/{name} ({phase or 'unknown phase'})")
    for ns, pod, container in found.containers:
        click.echo(f"still running: ephemeral container {container} in pod {ns}/{pod} "
                   "(cannot be removed; it exits by itself once no capture uses it)")
    if not found.pods and not found.containers:
        click.echo("nothing left by netmon")
    if failures:
        raise ClusterError("; ".join(failures.values()))
