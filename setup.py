"""The optional C extensions (kubectl_netmon/capture/_speedups.c, _flowpath.c, _merge.c,
_gather.c;
cluster/_wsframes.c);
everything else is in pyproject.toml. Without a C compiler the package installs pure Python
(capture/speedups.py, cluster/channels.py)."""

from setuptools import Extension, setup

CAPTURE = "kubectl_netmon/capture/"

setup(ext_modules=[Extension("kubectl_netmon.capture._speedups",
                             [CAPTURE + "_speedups.c", CAPTURE + "_flowpath.c",
                              CAPTURE + "_merge.c", CAPTURE + "_gather.c"],
                             depends=[CAPTURE + "_speedups.h"], optional=True),
                   Extension("kubectl_netmon.cluster._wsframes",
                             ["kubectl_netmon/cluster/_wsframes.c"], optional=True)])
