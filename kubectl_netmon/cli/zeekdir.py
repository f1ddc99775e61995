"""--zeek-dir, made and checked before a command starts its work: a live run must refuse it
before anything is created in the cluster (an ephemeral container can never be removed), and an
analysis before reading the capture."""

from __future__ import annotations

import os
import tempfile

from kubectl_netmon.errors import UsageError
from kubectl_netmon.output.escape import escape


def ready_zeek_dir(directory: str | None) -> None:
    """Make the directory (if given) and check that a log can be created in it."""
    if directory is None:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()  # a log is a file made there
    except FileExistsError:
        raise UsageError(f"--zeek-dir {escape(directory)}: a file, not a directory; name a "
                         "directory for the logs") from None
    except OSError as e:
        raise UsageError(f"--zeek-dir {escape(directory)}: cannot write logs there "
                         f"({escape(e.strerror or str(e))})") from None
