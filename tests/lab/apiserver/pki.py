"""The lab's certificate authority, the API server's serving certificate, tokens and kubeconfig.

Three ways to log in, as on a real cluster: bearer tokens (contexts `lab`, `lab-restricted`), an
x509 client certificate whose CN is the user and whose O fields are the groups (`lab-cert`), and
an exec credential plugin that prints an ExecCredential (`lab-exec`).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import sys
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ADMIN, RESTRICTED = "lab-admin", "lab-restricted"
# What the restricted user may do by default: read and exec, but not add ephemeral containers.
RESTRICTED_RULES = [
    {
        "verbs": ["get", "list", "watch"],
        "apiGroups": [""],
        "resources": ["pods", "pods/log", "namespaces", "nodes", "services"],
    },
    {"verbs": ["get", "create"], "apiGroups": [""], "resources": ["pods/exec"]},
]


def _name(cn: str, *orgs: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certs(pki: Path, service_ip: str) -> tuple[Path, Path, Path]:
    """A CA, a serving certificate for 127.0.0.1/localhost and for the `kubernetes` Service
    (its ClusterIP and names), and the admin's client certificate (admin.crt, admin.key);
    returns the (ca, serving cert, serving key) paths."""
    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("lab-ca"))
        .issuer_name(_name("lab-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(service_ip)),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(san, critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = pki / "ca.crt", pki / "apiserver.crt", pki / "apiserver.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_pair(cert, key, paths[1], paths[2])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(_name(ADMIN, "system:masters"))
        .issuer_name(ca.subject)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_pair(client, client_key, pki / "admin.crt", pki / "admin.key")
    return paths


def _write_pair(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, cert_path: Path,
                key_path: Path) -> None:
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)


def user_of_certificate(cert: dict) -> tuple[str, list[str]] | None:
    """(user, groups) of a verified client certificate (ssl's getpeercert() form): CN and O's,
    as kube-apiserver's x509 authenticator reads them."""
    fields = [attr for rdn in cert.get("subject", ()) for attr in rdn]
    names = [v for k, v in fields if k == "commonName"]
    return (names[0], [v for k, v in fields if k == "organizationName"]) if names else None


def write_credential_plugin(path: Path, token: str) -> None:
    """An exec credential plugin (client.authentication.k8s.io/v1) that prints token."""
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": token}}
    path.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    path.chmod(0o700)


def write_policy(path: Path) -> dict[str, str]:
    """policy.json with an admin (system:masters) and a restricted user; returns their tokens."""
    tokens = {ADMIN: secrets.token_hex(24), RESTRICTED: secrets.token_hex(24)}
    policy = {
        "users": {
            ADMIN: {"token": tokens[ADMIN], "groups": ["system:masters"]},
            RESTRICTED: {"token": tokens[RESTRICTED], "groups": []},
        },
        "rules": {RESTRICTED: RESTRICTED_RULES},
    }
    path.write_text(json.dumps(policy, indent=2))
    path.chmod(0o600)
    return tokens


def write_kubeconfig(path: Path, url: str, ca: Path, tokens: dict[str, str]) -> None:
    """Contexts `lab` (admin), `lab-restricted`, and the admin by certificate (`lab-cert`) and by
    exec plugin (`lab-exec`); current context `lab`."""
    plugin = ca.parent / "credential-plugin"
    write_credential_plugin(plugin, tokens[ADMIN])
    users = [{"name": user, "user": {"token": token}} for user, token in tokens.items()]
    users += [
        {"name": "lab-admin-cert", "user": {"client-certificate": str(ca.parent / "admin.crt"),
                                            "client-key": str(ca.parent / "admin.key")}},
        {"name": "lab-admin-exec", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
            "interactiveMode": "Never"}}},
    ]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "lab", "cluster": {"server": url, "certificate-authority": str(ca)}}],
        "users": users,
        "contexts": [
            {"name": "lab", "context": {"cluster": "lab", "user": ADMIN, "namespace": "default"}},
            {
                "name": "lab-restricted",
                "context": {"cluster": "lab", "user": RESTRICTED, "namespace": "default"},
            },
            {"name": "lab-cert",
             "context": {"cluster": "lab", "user": "lab-admin-cert", "namespace": "default"}},
            {"name": "lab-exec",
             "context": {"cluster": "lab", "user": "lab-admin-exec", "namespace": "default"}},
        ],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
