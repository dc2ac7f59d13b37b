"""The machine a benchmark ran on, in the one form docs/benchmarks.md records it."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe() -> str:
    """e.g. "2 CPUs, Intel(R) Xeon(R) Processor, Python 3.11.7"."""
    return f"{os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}"
