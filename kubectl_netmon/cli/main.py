"""Entry point of kubectl-netmon: the click group, and the one place errors become messages."""

from __future__ import annotations

import os
import sys

import click

from kubectl_netmon import __version__
from kubectl_netmon.errors import NetmonError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Network forensics for Kubernetes pods: flows with pod names, pcapng, Log4Shell alerts."""


@cli.command()
def version() -> None:
    """Print the version."""
    click.echo(f"kubectl-netmon v{__version__}")


def _register_commands() -> None:
    """Commands live in their own modules; importing them here keeps start-up light."""
    import kubectl_netmon.cli.capture  # noqa: F401
    import kubectl_netmon.cli.cleanup  # noqa: F401
    import kubectl_netmon.cli.completion  # noqa: F401
    import kubectl_netmon.cli.watch  # noqa: F401
    from kubectl_netmon.cli import analyze, enrich, zeek_table  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every NetmonError becomes one line on stderr and its exit code."""
    _register_commands()
    from kubectl_netmon.cli.kubeflags import after_command

    args = after_command(sys.argv[1:] if argv is None else list(argv))
    try:
        cli.main(args=args, prog_name="kubectl-netmon", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except NetmonError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # a bug: still one line for the user; NETMON_DEBUG=1 shows where
        if os.environ.get("NETMON_DEBUG"):
            raise
        from kubectl_netmon.output.escape import escape
        click.echo(f"internal error: {type(e).__name__}: {escape(str(e))}; please report it "
                   "(run with NETMON_DEBUG=1 for the traceback)", err=True)
        sys.exit(70)
