"""Label and field selectors, parsed once per request like apimachinery's labels/fields packages."""

from __future__ import annotations

import re
from collections.abc import Callable

from .status import bad_request

Match = Callable[[dict], bool]

_LABEL_TERM = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9./_-]+)\s*"
    r"(?:(?P<op>==|=|!=|>|<|\s+in\s+|\s+notin\s+)\s*(?P<val>\([^)]*\)|[A-Za-z0-9._-]*))?\s*$"
)
_SPLIT = re.compile(r",(?![^()]*\))")


# Field selectors the real server supports for each resource (others are a 400).
def _involved(key: str) -> Callable[[dict], str]:
    return lambda o: o["involvedObject"].get(key, "")


FIELDS: dict[str, dict[str, Callable[[dict], str]]] = {
    "pods": {
        "spec.nodeName": lambda o: o["spec"].get("nodeName", ""),
        "spec.restartPolicy": lambda o: o["spec"].get("restartPolicy", ""),
        "spec.schedulerName": lambda o: o["spec"].get("schedulerName", ""),
        "spec.serviceAccountName": lambda o: o["spec"].get("serviceAccountName", ""),
        "spec.hostNetwork": lambda o: str(bool(o["spec"].get("hostNetwork"))).lower(),
        "status.phase": lambda o: o.get("status", {}).get("phase", ""),
        "status.podIP": lambda o: o.get("status", {}).get("podIP", ""),
        "status.nominatedNodeName": lambda o: o.get("status", {}).get("nominatedNodeName", ""),
    },
    "nodes": {"spec.unschedulable": lambda o: str(bool(o["spec"].get("unschedulable"))).lower()},
    "namespaces": {"status.phase": lambda o: o.get("status", {}).get("phase", "")},
    "events": {
        **{
            f"involvedObject.{k}": _involved(k)
            for k in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": lambda o: o.get("reason", ""),
        "reportingComponent": lambda o: o.get("reportingComponent", ""),
        "source": lambda o: o.get("source", {}).get("component", ""),
        "type": lambda o: o.get("type", ""),
    },
}
_META = {
    "metadata.name": lambda o: o["metadata"]["name"],
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def label_selector(text: str) -> Match:
    """Compile `a=b,c!=d,e in (f,g),!h` into a predicate on an object's labels."""
    tests = [_label_term(t) for t in _SPLIT.split(text) if t.strip()]
    return lambda obj: all(t(obj["metadata"].get("labels") or {}) for t in tests)


def _label_term(term: str) -> Callable[[dict], bool]:
    m = _LABEL_TERM.match(term)
    if not m or (m["neg"] and m["op"]):
        raise bad_request(
            f"unable to parse requirement: found '{term.strip()}', expected: identifier"
        )
    key, op, val = m["key"], (m["op"] or "").strip(), m["val"]
    if not op:
        return (lambda lab: key not in lab) if m["neg"] else (lambda lab: key in lab)
    if op in ("in", "notin"):
        if not val or not val.startswith("("):
            raise bad_request(f"unable to parse requirement: found '{val}', expected: '('")
        values = {v.strip() for v in val[1:-1].split(",") if v.strip()}
        if op == "in":
            return lambda lab: lab.get(key) in values
        return lambda lab: lab.get(key) not in values
    if op in (">", "<"):  # labels.Requirement: both sides integers (strconv.ParseInt)
        if _int(val) is None:
            raise bad_request(f'unable to parse requirement: values[0]: Invalid value: "{val}": '
                              "for 'Gt', 'Lt' operators, the value must be an integer")
        bound, greater = _int(val), op == ">"
        return lambda lab: (v := _int(lab.get(key))) is not None and (
            v > bound if greater else v < bound)
    if op == "!=":
        return lambda lab: lab.get(key) != val
    return lambda lab: lab.get(key) == val


def _int(text: str | None) -> int | None:
    """strconv.ParseInt(text, 10, 64), None where it fails."""
    if not text or not re.fullmatch(r"[+-]?[0-9]+", text) or not -2**63 <= int(text) < 2**63:
        return None
    return int(text)


def field_selector(resource: str, text: str) -> Match:
    """Compile `metadata.name=x,spec.nodeName!=y`; unsupported fields are a 400, as upstream."""
    tests = []
    known = {**_META, **FIELDS.get(resource, {})}
    for term in filter(None, (t.strip() for t in text.split(","))):
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        getter = known.get(field)
        if getter is None:
            raise bad_request(f"field label not supported: {field}")
        tests.append(_field_term(getter, op == "!=", value))
    return lambda obj: all(t(obj) for t in tests)


def _field_term(getter: Callable[[dict], str], negate: bool, value: str) -> Match:
    if negate:
        return lambda obj: getter(obj) != value
    return lambda obj: getter(obj) == value
