"""Label and field selectors, parsed like apimachinery's."""

from __future__ import annotations

import pytest

from tests.lab.apiserver.selectors import field_selector, label_selector
from tests.lab.apiserver.status import ApiError

POD = {
    "metadata": {"name": "web", "namespace": "ns",
                 "labels": {"app": "web", "tier": "front", "replicas": "3"}},
    "spec": {"nodeName": "node-1"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    "text, matches",
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("tier in (front,back)", True),
        ("tier notin (front)", False),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=back", False),
        ("", True),
        ("replicas>2", True),
        ("replicas<3", False),
        ("tier>2", False),  # not an integer: no match
        ("missing<9", False),
    ],
)
def test_label_selector(text, matches):
    assert label_selector(text)(POD) is matches


def test_gt_and_lt_take_integers_only():
    with pytest.raises(ApiError, match="the value must be an integer"):
        label_selector("replicas>two")


@pytest.mark.parametrize(
    "text, matches",
    [
        ("metadata.name=web", True),
        ("metadata.namespace!=ns", False),
        ("spec.nodeName=node-1,status.phase=Running", True),
        ("status.phase=Pending", False),
    ],
)
def test_field_selector_on_pods(text, matches):
    assert field_selector("pods", text)(POD) is matches


def test_an_unsupported_field_is_bad_request():
    with pytest.raises(ApiError) as err:
        field_selector("pods", "spec.image=x")
    assert (err.value.code, err.value.message) == (400, "field label not supported: spec.image")
