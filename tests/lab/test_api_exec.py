"""pods/exec over WebSocket (channel.k8s.io v5 and v4), driven with websocket-client."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
import websocket

from tests.lab import fixtures
from tests.lab.fixtures import pod, ws_exec

lab = fixtures.lab  # the lab's fixture

V4 = ("v4.channel.k8s.io",)


@pytest.fixture(scope="module")
def ns(lab):
    """One namespace with a running pod `web` for every exec test of this module."""
    name = "exec-tests"
    lab.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    lab.create_pod(name, pod("web"))
    yield name
    lab.request("DELETE", f"/api/v1/namespaces/{name}")


def test_server_picks_v5_when_the_client_offers_it_first(lab, ns):
    assert ws_exec(lab, ns, "web", ["true"]).protocol == "v5.channel.k8s.io"


def test_server_picks_v4_when_only_v4_is_offered(lab, ns):
    assert ws_exec(lab, ns, "web", ["true"], protocols=V4).protocol == "v4.channel.k8s.io"


def test_the_first_frame_is_an_empty_stdout_frame(lab, ns):
    assert ws_exec(lab, ns, "web", ["echo", "hi"]).frames[0] == b"\x01"


def test_stdout_and_stderr_arrive_on_channels_1_and_2(lab, ns):
    result = ws_exec(lab, ns, "web", ["sh", "-c", "echo out; echo err >&2"])
    assert (result.channel(1), result.channel(2)) == (b"out\n", b"err\n")


def test_success_is_a_status_on_channel_3(lab, ns):
    assert ws_exec(lab, ns, "web", ["true"]).status == {"metadata": {}, "status": "Success"}


def test_a_non_zero_exit_is_a_status_carrying_the_exit_code(lab, ns):
    status = ws_exec(lab, ns, "web", ["sh", "-c", "exit 3"]).status
    assert (status["reason"], status["details"]) == (
        "NonZeroExitCode",
        {"causes": [{"reason": "ExitCode", "message": "3"}]},
    )
    assert status["message"] == (
        "command terminated with non-zero exit code: error executing "
        "command [sh -c exit 3], exit code 3"
    )


def test_v4_sends_the_same_status_shape(lab, ns):
    status = ws_exec(lab, ns, "web", ["sh", "-c", "exit 7"], protocols=V4).status
    assert status["details"]["causes"][0]["message"] == "7"


def test_binary_output_is_byte_identical(lab, ns):
    script = (
        'f=$(mktemp); head -c 1000000 /dev/urandom > "$f"; cat "$f"; sha256sum < "$f" >&2; rm "$f"'
    )
    result = ws_exec(lab, ns, "web", ["sh", "-c", script])
    digest = result.channel(2).split()[0].decode()
    assert hashlib.sha256(result.channel(1)).hexdigest() == digest


def test_output_frames_carry_at_most_32_kib(lab, ns):
    one_write = "import sys; sys.stdout.buffer.write(bytes(200000))"
    result = ws_exec(lab, ns, "web", ["python3", "-c", one_write])
    sizes = [len(f) - 1 for f in result.frames if f[:1] == b"\x01"]
    assert max(sizes) <= 32 * 1024 and sum(sizes) == 200000


def test_stdin_reaches_the_process_and_the_v5_close_gives_it_eof(lab, ns):
    result = ws_exec(lab, ns, "web", ["sha256sum"], stdin=b"\x00\xffpayload")
    assert result.channel(1).split()[0].decode() == hashlib.sha256(b"\x00\xffpayload").hexdigest()


def test_a_missing_executable_is_an_internal_error_without_exit_code(lab, ns):
    status = ws_exec(lab, ns, "web", ["no-such-tool"]).status
    assert (status["reason"], status["code"]) == ("InternalError", 500)
    assert status["message"].startswith(
        "Internal error occurred: error executing command in "
        "container: failed to exec in container: "
    )
    assert 'exec: "no-such-tool": executable file not found in $PATH' in status["message"]


def test_the_server_closes_normally_after_the_status(lab, ns):
    assert ws_exec(lab, ns, "web", ["true"]).close_code == 1000


def test_exec_without_a_command_is_bad_request(lab, ns):
    code, body = lab.request("GET", f"/api/v1/namespaces/{ns}/pods/web/exec?stdout=true")
    assert (code, body["message"]) == (400, "you must specify at least 1 command")


def test_exec_in_an_unknown_container_is_bad_request(lab, ns):
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        ws_exec(lab, ns, "web", ["true"], container="nope")
    assert err.value.status_code == 400
    assert b"container nope is not valid for pod web" in err.value.resp_body


def test_exec_in_a_missing_pod_is_not_found(lab, ns):
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        ws_exec(lab, ns, "nope", ["true"])
    assert err.value.status_code == 404


def test_a_dropped_connection_gives_the_process_stdin_eof(lab, ns):
    marker = f"/tmp/saw-eof-{uuid.uuid4().hex[:8]}"  # in the container's own /tmp
    url = (
        f"wss://127.0.0.1:{lab.port}/api/v1/namespaces/{ns}/pods/web/exec?command=sh"
        f"&command=-c&command=cat+%3E/dev/null%3B+touch+{marker}&stdin=true&stdout=true"
    )
    ws = websocket.create_connection(
        url,
        header=[f"Authorization: Bearer {lab.admin_token}"],
        subprotocols=list(V4),
        sslopt={"ca_certs": str(lab.ca)},
    )
    ws.sock.close()  # no close frame, no half-close: the client just goes away
    deadline = time.monotonic() + 30
    while not (seen := _exists_in_web(lab, ns, marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen


def _exists_in_web(lab, ns: str, path: str) -> bool:
    return ws_exec(lab, ns, "web", ["test", "-e", path]).status["status"] == "Success"
