"""How every bench measures one contender, inside its own child process.

Time is the wall time of the call alone, and its CPU time (user + system, all threads), which
other load on the machine disturbs less. Memory is the peak resident set during the call above
the resident set just before it: the kernel's high-water mark is reset
(``/proc/self/clear_refs``, Linux) after imports and data loading, then ``VmHWM`` is read. The
whole-process peak (``ru_maxrss``, including the data) is reported too.

``whole_process`` measures a command as a user runs it instead: wall time from its start to its exit, its CPU
time and its peak resident set, all of the process. It is started by a bare launcher (``python -S -m
bench.measure``, about 10 MiB) rather than by the bench itself, because Linux carries the starting process's
high-water mark into the child's ``ru_maxrss`` across fork and exec.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def whole_process(command: list[str]) -> dict:
    """``command``'s wall time, CPU time (user + system) and process peak, run from a bare launcher; its
    standard output goes to standard error. A failing command fails the bench."""
    launched = subprocess.run([sys.executable, "-S", "-m", "bench.measure", *command], cwd=ROOT, check=True,
                              stdout=subprocess.PIPE, text=True)
    return json.loads(launched.stdout)


def _launch(command: list[str]) -> dict:
    start = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, 2, 1)])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{command[0]} exited with {code}")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "process_peak_mib": usage.ru_maxrss / 1024}


if __name__ == "__main__":
    print(json.dumps(_launch(sys.argv[1:])))
