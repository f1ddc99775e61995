"""The lab's benign client: ordinary requests to WEB_ADDR every INTERVAL seconds, so the attack
has everyday traffic around it."""

from __future__ import annotations

import os

from traffic import Request, forever

REQUESTS: list[Request] = [
    ("GET", "/", {"User-Agent": "curl/8.5.0"}, b""),
    ("GET", "/products?page=2", {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"}, b""),
    (
        "POST",
        "/api/orders",
        {"Content-Type": "application/json", "User-Agent": "shop-app/1.4"},
        b'{"item": "book", "qty": 1}',
    ),
]

if __name__ == "__main__":
    forever(os.environ["WEB_ADDR"], REQUESTS, float(os.environ.get("INTERVAL", "1")))
