"""The three patch types, as pure functions (strategic merge, JSON merge, JSON patch)."""

from __future__ import annotations

import pytest

from tests.lab.apiserver import patch
from tests.lab.apiserver.status import ApiError

POD = {
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "containers": [{"name": "app", "image": "nginx", "command": ["a", "b"]}],
        "ephemeralContainers": [{"name": "debugger-1", "image": "busybox"}],
    },
}


def test_strategic_merge_appends_a_new_ephemeral_container_and_keeps_the_old_one():
    body = {"spec": {"ephemeralContainers": [{"name": "debugger-2", "image": "netshoot"}]}}
    out = patch.strategic_merge(POD, body)
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["debugger-1", "debugger-2"]


def test_strategic_merge_merges_into_the_container_with_the_same_name():
    out = patch.strategic_merge(POD, {"spec": {"containers": [{"name": "app", "image": "x"}]}})
    assert out["spec"]["containers"] == [{"name": "app", "image": "x", "command": ["a", "b"]}]


def test_strategic_merge_delete_directive_removes_the_named_item():
    body = {"spec": {"ephemeralContainers": [{"name": "debugger-1", "$patch": "delete"}]}}
    assert patch.strategic_merge(POD, body)["spec"]["ephemeralContainers"] == []


def test_strategic_merge_replaces_lists_that_have_no_merge_key():
    body = {"spec": {"containers": [{"name": "app", "command": ["c"]}]}}
    assert patch.strategic_merge(POD, body)["spec"]["containers"][0]["command"] == ["c"]


def test_strategic_merge_null_removes_a_key():
    out = patch.strategic_merge(POD, {"metadata": {"labels": {"tier": None}}})
    assert out["metadata"]["labels"] == {"app": "web"}


def test_strategic_merge_ignores_set_element_order_directives():
    body = {"metadata": {"$setElementOrder/finalizers": ["a"], "finalizers": ["a"]}}
    assert patch.strategic_merge(POD, body)["metadata"]["finalizers"] == ["a"]


def test_merge_patch_replaces_keyed_lists_whole():
    body = {"spec": {"ephemeralContainers": [{"name": "debugger-2", "image": "netshoot"}]}}
    out = patch.merge_patch(POD, body)
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["debugger-2"]


def test_merge_patch_null_removes_a_key():
    out = patch.merge_patch(POD, {"metadata": {"labels": None}})
    assert "labels" not in out["metadata"]


def test_json_patch_add_with_dash_appends_to_a_list():
    ops = [
        {
            "op": "add",
            "path": "/spec/ephemeralContainers/-",
            "value": {"name": "debugger-2", "image": "netshoot"},
        }
    ]
    out = patch.json_patch(POD, ops, "Pod", "web")
    assert out["spec"]["ephemeralContainers"][-1]["name"] == "debugger-2"


def test_json_patch_replace_and_remove_follow_rfc_6902():
    ops = [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "y"},
        {"op": "remove", "path": "/metadata/labels/tier"},
    ]
    out = patch.json_patch(POD, ops, "Pod", "web")
    assert (out["spec"]["containers"][0]["image"], out["metadata"]["labels"]) == (
        "y",
        {"app": "web"},
    )


def test_json_patch_pointer_escapes_tilde_and_slash():
    doc = {"metadata": {"annotations": {"a/b~c": "1"}}}
    ops = [{"op": "remove", "path": "/metadata/annotations/a~1b~0c"}]
    assert patch.json_patch(doc, ops, "Pod", "web") == {"metadata": {"annotations": {}}}


def test_json_patch_failed_test_is_invalid_on_the_patch_field():
    ops = [{"op": "test", "path": "/metadata/name", "value": "other"}]
    with pytest.raises(ApiError) as err:
        patch.json_patch(POD, ops, "Pod", "web")
    assert (err.value.code, err.value.reason) == (422, "Invalid")
    assert err.value.details["causes"][0]["field"] == "patch"


def test_json_patch_replace_of_a_missing_path_is_invalid():
    ops = [{"op": "replace", "path": "/spec/nodeName", "value": "node-1"}]
    with pytest.raises(ApiError) as err:
        patch.json_patch(POD, ops, "Pod", "web")
    assert "missing path" in err.value.message


def test_json_patch_does_not_change_the_original():
    patch.json_patch(POD, [{"op": "remove", "path": "/spec/ephemeralContainers/0"}], "Pod", "web")
    assert POD["spec"]["ephemeralContainers"][0]["name"] == "debugger-1"
