"""kubectl-netmon: ad-hoc network forensics for Kubernetes pods."""

__version__ = "0.1.0"
