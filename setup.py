"""The optional C extension (kubectl_netmon/capture/_speedups.c); everything else is in
pyproject.toml. Without a C compiler the package installs pure Python (capture/speedups.py)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("kubectl_netmon.capture._speedups",
                             ["kubectl_netmon/capture/_speedups.c"], optional=True)])
