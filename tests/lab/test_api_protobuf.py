"""Protobuf request bodies (application/vnd.kubernetes.protobuf), as kubectl's typed clients
send them, decoded to the JSON a client would have sent."""

from __future__ import annotations

import pytest

from tests.lab.apiserver import protobuf
from tests.lab.apiserver.status import ApiError


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | str | int | bool) -> bytes:
    """One protobuf field: a varint for ints and bools, length-delimited otherwise."""
    if isinstance(value, (bool, int)):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _envelope(kind: str, raw: bytes, api_version: str = "v1") -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return protobuf.MAGIC + _field(1, type_meta) + _field(2, raw)


NODE_DEBUG_POD = (
    _field(
        1,
        _field(1, "node-debugger")
        + _field(2, "")
        + _field(11, _field(1, "app") + _field(2, "dbg")),
    )
    + _field(
        2,
        (
            _field(
                2,
                _field(1, "debugger")
                + _field(2, "busybox")
                + _field(3, "sleep")
                + _field(3, "30")
                + _field(8, b"")
                + _field(16, False)
                + _field(15, _field(1, _field(1, "NET_ADMIN")) + _field(7, False)),
            )
            + _field(3, "Never")
            + _field(10, "node-1")
            + _field(11, True)
            + _field(12, True)
            + _field(22, _field(2, "Exists"))
            + _field(1, _field(1, "host-root") + _field(2, _field(1, _field(1, "/"))))
        ),
    )
    + _field(3, b"")
)


def test_a_pod_decodes_to_its_json_form():
    pod = protobuf.decode(_envelope("Pod", NODE_DEBUG_POD))
    assert pod["metadata"] == {"name": "node-debugger", "labels": {"app": "dbg"}}
    assert pod["spec"]["containers"][0]["command"] == ["sleep", "30"]
    assert pod["spec"]["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]


def test_zero_values_of_non_pointer_fields_are_dropped():
    container = protobuf.decode(_envelope("Pod", NODE_DEBUG_POD))["spec"]["containers"][0]
    assert "stdin" not in container and container["resources"] == {}


def test_zero_values_of_pointer_fields_are_kept():
    container = protobuf.decode(_envelope("Pod", NODE_DEBUG_POD))["spec"]["containers"][0]
    assert container["securityContext"] == {
        "capabilities": {"add": ["NET_ADMIN"]},
        "allowPrivilegeEscalation": False,
    }


def test_kind_and_api_version_come_from_the_envelope():
    ns = protobuf.decode(_envelope("Namespace", _field(1, _field(1, "team-a"))))
    assert (ns["kind"], ns["apiVersion"], ns["metadata"]) == ("Namespace", "v1", {"name": "team-a"})


def test_an_int_or_string_target_port_decodes_to_either():
    ports = _field(1, _field(3, 80) + _field(4, _field(1, 0) + _field(2, 8080))) + _field(
        1, _field(3, 81) + _field(4, _field(1, 1) + _field(3, "http"))
    )
    svc = protobuf.decode(_envelope("Service", _field(2, ports)))
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == [8080, "http"]


def test_a_field_the_lab_does_not_know_is_refused_with_415():
    with pytest.raises(ApiError) as err:
        protobuf.decode(_envelope("Pod", _field(2, _field(18, b""))))
    assert (err.value.code, err.value.message) == (
        415,
        "the lab's protobuf decoder does not handle field 18 of message PodSpec; send "
        "application/json",
    )


def test_a_body_without_the_magic_prefix_is_bad_request():
    with pytest.raises(ApiError) as err:
        protobuf.decode(b"{}")
    assert err.value.code == 400
