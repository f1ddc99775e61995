"""HTTP requests for the lab's traffic generators (attacker and client): one request, one line."""

from __future__ import annotations

import http.client
import itertools
import time

Request = tuple[str, str, dict[str, str], bytes]


def send(web: str, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
    """One request to web ("ip:port") on a new connection; prints the outcome, never raises."""
    host, port = web.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.request(method, target, body=body or None, headers=headers)
        print(f"{method} {target} -> {conn.getresponse().status}", flush=True)
    except OSError as err:
        print(f"{method} {target} failed: {err}", flush=True)
    finally:
        conn.close()


def forever(web: str, requests: list[Request], interval_s: float) -> None:
    """Send the requests in turn, one every interval_s seconds, until killed."""
    for request in itertools.cycle(requests):
        send(web, *request)
        time.sleep(interval_s)
