"""How every bench measures one contender, inside its own child process.

Time is the wall time of the call alone, and its CPU time (user + system, all threads), which
other load on the machine disturbs less. Memory is the peak resident set during the call above
the resident set just before it: the kernel's high-water mark is reset
(``/proc/self/clear_refs``, Linux) after imports and data loading, then ``VmHWM`` is read. The
whole-process peak (``ru_maxrss``, including the data) is reported too.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(call: Callable[[], Any]) -> tuple[Any, dict]:
    """``call()``'s result and its wall time, CPU time, added peak memory and process peak."""
    gc.collect()
    before_kib = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark restarts from the current RSS
    start, cpu_start = time.perf_counter(), time.process_time()
    result = call()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return result, {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_increase_mib": (_status_kib("VmHWM") - before_kib) / 1024,
        "process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_children(module: str, contenders: tuple[str, ...], args: list[str]) -> dict[str, dict]:
    """Runs ``python -m <module> --child <contender> <args> --out FILE`` per contender, one at a
    time so neither inherits the other's memory; returns what each child wrote."""
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for contender in contenders:
            out = Path(tmp) / f"{contender}.json"
            subprocess.run([sys.executable, "-m", module, "--child", contender, *args, "--out", str(out)],
                           check=True, cwd=ROOT)
            measured[contender] = json.loads(out.read_text())
    return measured


def comparison(measured: dict[str, dict], ours: str, theirs: str) -> dict:
    """Each contender's figures and ours as a share of theirs."""
    share = lambda key: measured[ours][key] / measured[theirs][key]  # noqa: E731
    return {
        "seconds": {c: measured[c]["seconds"] for c in (ours, theirs)},
        "time_ratio": share("seconds"),
        "cpu_seconds": {c: measured[c]["cpu_seconds"] for c in (ours, theirs)},
        "cpu_time_ratio": share("cpu_seconds"),
        "peak_increase_mib": {c: measured[c]["peak_increase_mib"] for c in (ours, theirs)},
        "memory_ratio": share("peak_increase_mib"),
        "process_peak_mib": {c: measured[c]["process_peak_mib"] for c in (ours, theirs)},
        "process_peak_ratio": share("process_peak_mib"),
    }
