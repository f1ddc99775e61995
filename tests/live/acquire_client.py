"""A capture client in its own process, for tests that signal or kill it.

`python3 -m tests.live.acquire_client KUBECONFIG NAMESPACE OPTIONS_JSON WORD...` resolves the
targets, enters a CaptureSession, prints one JSON line describing the capture points once they
stream, then drains them. Exit status: 0 when the captures end, 130 on SIGINT, 143 on SIGTERM
(the session's own handler), 1 with the message on a NetmonError.
"""

from __future__ import annotations

import json
import sys

from kubernetes import config

from kubectl_netmon.cluster.session import AcquireOptions, CaptureSession
from kubectl_netmon.cluster.targets import parse_targets, resolve
from kubectl_netmon.errors import NetmonError


def main(argv: list[str]) -> int:
    kubeconfig, namespace, options, *words = argv
    api = config.new_client_from_config(config_file=kubeconfig, context="lab")
    try:
        targets = resolve(api, parse_targets(words, namespace))
        with CaptureSession(api, targets, AcquireOptions(**json.loads(options)),
                            lambda s: None) as points:
            where = [{"name": p.name, "namespace": p.namespace, "pod": p.pod,
                      "container": p.container} for p in points]
            print(json.dumps(where), flush=True)
            for point in points:
                for _ in point.output:
                    pass
    except KeyboardInterrupt:
        return 130
    except NetmonError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
