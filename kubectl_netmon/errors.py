"""The user-facing failures: raised anywhere below the CLI, turned into messages at its edge."""


class NetmonError(Exception):
    """Base of every failure shown to the user; its message says what was wrong and what to do."""

    exit_code = 1


class UsageError(NetmonError):
    """Bad flags or arguments."""

    exit_code = 2


class CaptureError(NetmonError):
    """A capture file or stream that cannot be read at all (missing, not a capture, empty)."""


class ClusterError(NetmonError):
    """The cluster refused or failed an operation (API error, RBAC, admission, timeouts)."""


class OutputError(NetmonError):
    """A file the command writes failed (disk full, quota, a device error); what was written
    before the failure is kept."""
