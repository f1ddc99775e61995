"""Logging in to the lab as to a real cluster: a client certificate (user from CN, groups from O)
and an exec credential plugin work for real kubectl, next to bearer tokens."""

from __future__ import annotations

import http.client
import ssl

import pytest

from tests.lab import fixtures
from tests.lab.apiserver.pki import make_certs

kubectl_bin, lab, lab_ns = fixtures.kubectl_bin, fixtures.lab, fixtures.lab_ns  # the lab's fixtures


@pytest.mark.parametrize("context", ["lab-cert", "lab-exec"])
def test_kubectl_lists_pods_logged_in_by(lab, kubectl_bin, lab_ns, context):
    run = lab.kubectl(kubectl_bin, "-n", lab_ns, "get", "pods", context=context)
    assert run.returncode == 0, run.stderr


def test_the_certificates_organisation_is_the_users_group(lab, kubectl_bin):
    """The admin certificate's O=system:masters grants what no rule names."""
    run = lab.kubectl(kubectl_bin, "auth", "can-i", "create", "pods", "--subresource",
                      "ephemeralcontainers", "-n", "kube-system", context="lab-cert")
    assert run.stdout.strip() == b"yes", run.stderr


def test_a_certificate_from_another_authority_is_refused_in_the_handshake(lab, tmp_path):
    make_certs(tmp_path, "10.96.0.1")  # a second, unrelated CA and its admin certificate
    ctx = ssl.create_default_context(cafile=str(lab.ca))
    ctx.load_cert_chain(tmp_path / "admin.crt", tmp_path / "admin.key")
    conn = http.client.HTTPSConnection("127.0.0.1", lab.port, context=ctx, timeout=30)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        conn.request("GET", "/api/v1/namespaces")
        conn.getresponse()
