"""What the benchmarks measure about the machine itself."""

from __future__ import annotations

import os


def machine_cpu() -> float:
    """CPU seconds all processes of the machine have used (Linux ``/proc/stat``; NaN elsewhere).

    Benchmarks compare it with their own CPU time to tell when other processes disturbed a run.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal, *_ = map(int, f.readline().split()[1:])
    except (OSError, ValueError):
        return float("nan")
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
