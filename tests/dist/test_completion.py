"""Shell completion: `completion bash|zsh|fish` prints a script that completes kubectl-netmon,
and the kubectl completer answers kubectl's plugin completion in cobra's format."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_netmon.cli.main import main
from tests.dist.conftest import REPO


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(shell: str, capsys) -> None:
    main(["completion", shell])
    script = capsys.readouterr().out
    assert f"_KUBECTL_NETMON_COMPLETE={shell}_complete" in script
    assert "kubectl-netmon" in script


def test_completion_of_an_unknown_shell_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["completion", "tcsh"])
    assert stop.value.code == 2
    assert "'tcsh' is not one of" in capsys.readouterr().err


def test_kubectl_completer_script_runs_kubectl_netmon_in_kubectl_mode(capsys) -> None:
    main(["completion", "kubectl"])
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/sh\n")
    assert '_KUBECTL_NETMON_COMPLETE=kubectl_complete exec kubectl-netmon "$@"' in script


@pytest.fixture
def netmon_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a kubectl-netmon running this source tree."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "kubectl-netmon"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kubectl_netmon "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed")
def test_bash_completes_a_command_with_the_printed_script(netmon_on_path: dict) -> None:
    script = (
        "source <(kubectl-netmon completion bash)\n"
        "COMP_WORDS=(kubectl-netmon ver); COMP_CWORD=1\n"
        "_kubectl_netmon_completion kubectl-netmon\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", script], capture_output=True, text=True, env=netmon_on_path
    )
    assert done.stdout == "version\n", done.stderr


def kubectl_complete(env: dict, *words: str) -> list[str]:
    """What kubectl reads from kubectl_complete-netmon WORDS... (the last one incomplete)."""
    done = subprocess.run(
        ["kubectl-netmon", *words], capture_output=True, text=True, check=True,
        env={**env, "_KUBECTL_NETMON_COMPLETE": "kubectl_complete"},
    )  # fmt: skip
    return done.stdout.splitlines()


def test_kubectl_mode_lists_commands_with_help_and_no_file_directive(netmon_on_path) -> None:
    lines = kubectl_complete(netmon_on_path, "")
    assert "version\tPrint the version." in lines
    assert any(line.startswith("analyze\t") for line in lines)
    assert lines[-1] == ":4"


def test_kubectl_mode_completes_the_word_being_typed(netmon_on_path) -> None:
    assert kubectl_complete(netmon_on_path, "completion", "z") == ["zsh", ":4"]


def test_kubectl_mode_leaves_file_names_to_the_shell_for_a_capture(netmon_on_path) -> None:
    assert kubectl_complete(netmon_on_path, "analyze", "") == [":0"]


def test_kubectl_completer_works_through_a_real_kubectl(
    netmon_on_path: dict, kubectl: str, tmp_path: Path
) -> None:
    bin_dir = Path(netmon_on_path["PATH"].split(":")[0])
    completer = bin_dir / "kubectl_complete-netmon"
    completer.write_text(subprocess.run(
        ["kubectl-netmon", "completion", "kubectl"], capture_output=True, text=True, check=True,
        env=netmon_on_path).stdout)  # fmt: skip
    completer.chmod(0o755)
    done = subprocess.run(
        [kubectl, "__complete", "netmon", "completion", "f"], capture_output=True, text=True,
        env=netmon_on_path, cwd=tmp_path,
    )  # fmt: skip
    assert done.stdout.splitlines() == ["fish", ":4"], done.stderr


def test_kubectl_complete_entry_point_answers_without_a_script(monkeypatch, capsys) -> None:
    from kubectl_netmon.cli.completion import COMPLETE_VAR, kubectl_complete

    monkeypatch.setattr(sys, "argv", ["kubectl_complete-netmon", "completion", "b"])
    monkeypatch.setenv(COMPLETE_VAR, "")  # restored (unset) after the test
    with pytest.raises(SystemExit) as stop:
        kubectl_complete()
    assert stop.value.code == 0
    assert capsys.readouterr().out == "bash\n:4\n"


def test_kubectl_mode_escapes_candidates_so_lines_and_terminal_stay_intact() -> None:
    from click.shell_completion import CompletionItem

    from kubectl_netmon.cli.completion import KubectlComplete
    from kubectl_netmon.cli.main import cli

    line = KubectlComplete(cli, {}, "kubectl-netmon", "_X").format_completion(
        CompletionItem("pod\x1b[2J\nx", help="tab\there")
    )
    assert line == "pod\\x1b[2J\\x0ax\ttab\\x09here"
