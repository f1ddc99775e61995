"""`kubectl netmon --help` starts fast: the heavy libraries load only in a command that needs
them (scripts/bench-startup measures the time; this checks what gets imported)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.dist.conftest import REPO

HEAVY = ("kubernetes", "pyshark", "lxml", "websocket", "scapy", "yaml", "urllib3", "tabulate")

LOADED_AFTER = """
import sys
from kubectl_netmon.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("loaded:", *sorted({m.split(".")[0] for m in sys.modules} & HEAVY))
"""


def heavy_modules_loaded(*args: str, preload: str = "") -> list[str]:
    """Top-level heavy packages in sys.modules after running the CLI with ARGS in a fresh
    interpreter (after importing PRELOAD, to check the check)."""
    script = f"HEAVY = {set(HEAVY)!r}\n" + (f"import {preload}\n" if preload else "")
    done = subprocess.run(
        [sys.executable, "-c", script + LOADED_AFTER, *args],
        capture_output=True, text=True, cwd=REPO, check=True,
    )  # fmt: skip
    return done.stdout.splitlines()[-1].split()[1:]


@pytest.mark.parametrize(
    "args", [["--help"], ["version"], ["analyze", "--help"], ["completion", "bash"]]
)
def test_light_commands_import_no_heavy_library(args: list[str]) -> None:
    assert heavy_modules_loaded(*args) == []


def test_the_check_sees_a_heavy_library_once_loaded() -> None:
    assert "pyshark" in heavy_modules_loaded("--help", preload="pyshark")


def test_analyzing_a_capture_leaves_pyshark_unloaded(shared_pcaps) -> None:
    """pyshark (tshark) is for --inspect only, never on the packet path."""
    loaded = heavy_modules_loaded("analyze", str(shared_pcaps / "log4j-attack.pcap"),
                                  "-o", "json")
    assert "pyshark" not in loaded
