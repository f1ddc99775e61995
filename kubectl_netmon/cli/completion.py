"""Shell completion: `completion bash|zsh|fish` prints click's script, and kubectl's plugin
completion (kubectl 1.26+ runs `kubectl_complete-netmon ARGS... INCOMPLETE` from PATH and reads
cobra's `__complete` format) is answered when `_KUBECTL_NETMON_COMPLETE=kubectl_complete`.
"""

from __future__ import annotations

import os
import sys

import click
from click.shell_completion import (
    CompletionItem,
    ShellComplete,
    add_completion_class,
    get_completion_class,
)

from kubectl_netmon.cli.main import cli, main
from kubectl_netmon.output.escape import escape

PROG_NAME = "kubectl-netmon"
COMPLETE_VAR = "_KUBECTL_NETMON_COMPLETE"
SHELLS = ("bash", "zsh", "fish")

# cobra's ShellCompDirective values (spf13/cobra completions.go), read by kubectl.
_DIRECTIVE_DEFAULT = 0  # the shell falls back to file names
_DIRECTIVE_NO_FILE_COMP = 4
_DIRECTIVE_FILTER_DIRS = 16


class KubectlComplete(ShellComplete):
    """Answers kubectl's plugin completion: one `value<TAB>help` line per candidate, then
    `:<directive>`; the words come as arguments, the last one being the word to complete."""

    name = "kubectl"
    source_template = (
        '#!/bin/sh\n# kubectl plugin completion for kubectl netmon (kubectl 1.26+)\n'
        '%(complete_var)s=kubectl_complete exec %(prog_name)s "$@"\n'
    )

    def get_completion_args(self) -> tuple[list[str], str]:
        words = sys.argv[1:]
        return (words[:-1], words[-1]) if words else ([], "")

    def format_completion(self, item: CompletionItem) -> str:
        """Escaped, so a candidate from the cluster can neither break the line format nor
        reach the terminal raw."""
        value = escape(str(item.value))
        return f"{value}\t{escape(item.help)}" if item.help else value

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        items = self.get_completions(args, incomplete)
        return "\n".join([*map(self.format_completion, _plain(items)), f":{_directive(items)}"])


def _plain(items: list[CompletionItem]) -> list[CompletionItem]:
    """Candidates proper; click's `file`/`dir` items are requests for the shell's own completion."""
    return [item for item in items if item.type == "plain"]


def _directive(items: list[CompletionItem]) -> int:
    """Directories when a folder is expected; no file names beside real candidates; otherwise
    the shell's file completion, as cobra does by default."""
    types = {item.type for item in items}
    if "dir" in types and "file" not in types:
        return _DIRECTIVE_FILTER_DIRS
    if types == {"plain"}:
        return _DIRECTIVE_NO_FILE_COMP
    return _DIRECTIVE_DEFAULT


add_completion_class(KubectlComplete)


def completion_script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh, fish, or kubectl's completer)."""
    return get_completion_class(shell)(cli, {}, PROG_NAME, COMPLETE_VAR).source()


@cli.command()
@click.argument("shell", type=click.Choice([*SHELLS, "kubectl"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:    source <(kubectl-netmon completion bash)      (in ~/.bashrc)
    zsh:     source <(kubectl-netmon completion zsh)       (in ~/.zshrc)
    fish:    kubectl-netmon completion fish | source       (in config.fish)
    kubectl: kubectl-netmon completion kubectl > DIR/kubectl_complete-netmon
             and `chmod +x` it, DIR on PATH: `kubectl netmon <TAB>` then
             completes through kubectl's own completion (kubectl 1.26+).
    """
    click.echo(completion_script(shell), nl=False)


def kubectl_complete() -> None:
    """Entry point of the `kubectl_complete-netmon` console script (pip and pipx installs):
    kubectl's plugin completer, without a generated script."""
    os.environ[COMPLETE_VAR] = "kubectl_complete"
    main()
