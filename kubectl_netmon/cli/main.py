"""Entry point of kubectl-netmon: the click group, and the one place errors become messages."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import NoReturn

import click

from kubectl_netmon import __version__
from kubectl_netmon.errors import NetmonError

# errors of an output that is full or failing (not a reader that went away: EPIPE is a quiet end)
_OUTPUT_FULL = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO))


class _StdoutClosed(Exception):
    """The reader of our stdout went away (`| head`): a normal end, not a failure."""


class _Group(click.Group):
    """Click exits 1 on a broken pipe before main() can see it: turn it into _StdoutClosed.
    (The product's own sockets and files turn their errors into NetmonErrors, so a broken pipe
    that reaches here is stdout's.)"""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _StdoutClosed from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
    except click.exceptions.NoArgsIsHelpError as e:
        e.show()
        sys.exit(e.exit_code)
    except click.UsageError as e:
        click.echo(_usage_line(e), err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except NetmonError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except _StdoutClosed:
        # what is still buffered for stdout goes nowhere, so the exit stays quiet and 0
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as e:
        if e.errno not in _OUTPUT_FULL:
            _internal_error(e)
        # the product's own files say which failed; what reaches here is stdout's
        click.echo(f"error: {_cannot_write_stdout(e)}", err=True)
        sys.exit(1)
    except Exception as e:  # a bug: still one line for the user; NETMON_DEBUG=1 shows where
        _internal_error(e)


def _internal_error(e: Exception) -> NoReturn:
    """A bug: still one line for the user; NETMON_DEBUG=1 shows where."""
    if os.environ.get("NETMON_DEBUG"):
        raise e
    from kubectl_netmon.output.escape import escape
    click.echo(f"internal error: {type(e).__name__}: {escape(str(e))}; please report it "
               "(run with NETMON_DEBUG=1 for the traceback)", err=True)
    sys.exit(70)


def _cannot_write_stdout(e: OSError) -> str:
    return f"cannot write the output ({e.strerror}); what was written before the failure is in it"


def run() -> NoReturn:
    """The program's entry: main(), then out without Python's finalization. Threads still
    blocked in TLS reads (the pod watch) would race OpenSSL's and the interpreter's teardown at
    exit, which can abort the process instead of exiting with main's code; every file main
    wrote is closed by then, and stdout and stderr are flushed here."""
    code: int | str | None = 0
    try:
        main()
    except SystemExit as e:
        code = e.code
    except KeyboardInterrupt:  # Ctrl-C while the commands still load, before main's handlers
        code = 130
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
    except OSError as e:  # what was still buffered: a full disk fails the run, as a write did
        if e.errno in _OUTPUT_FULL and not code:
            print(f"error: {_cannot_write_stdout(e)}", file=sys.stderr)
            code = 1
    except ValueError:  # closed
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code or 0)


def _usage_line(e: click.UsageError) -> str:
    """Bad flags as one line, like every other error, with where to look (kubectl says
    "error: unknown flag: --x" and points at --help too)."""
    from kubectl_netmon.output.escape import escape

    what = " ".join(e.format_message().split()).rstrip(".")
    where = e.ctx.command_path if e.ctx is not None else "kubectl-netmon"
    return f"error: {escape(what)}; see '{where} --help'"
