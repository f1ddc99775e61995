"""Per-node pod IPs: the lowest free address first, so a freed IP is the next one handed out."""

from __future__ import annotations

import ipaddress


class Ipam:
    """Addresses of one pod CIDR; the first host address is the bridge's (the pods' gateway)."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr)
        hosts = self.network.hosts()
        self.gateway = str(next(hosts))
        self._pool = [str(h) for h in hosts]
        self._used: set[str] = set()

    def allocate(self) -> str:
        """The lowest free address; raise RuntimeError when the CIDR is full."""
        for addr in self._pool:
            if addr not in self._used:
                self._used.add(addr)
                return addr
        raise RuntimeError(f"pod CIDR {self.network} is full")

    def release(self, addr: str) -> None:
        """Make addr free again (and so the next one handed out if it is the lowest)."""
        self._used.discard(addr)
