"""Peak resident memory of this process, in MB.

Read from /proc/self/status (VmHWM: the high-water mark of this program's own
memory). Not `getrusage`: on Linux a child's ru_maxrss also counts the parent it
was forked from (before exec), which here would be the benchmark with the emulator
and its whole tenant in memory.
"""

from __future__ import annotations


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # elsewhere: the best there is (on macOS ru_maxrss is in bytes)
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)
