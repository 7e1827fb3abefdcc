"""How a rewardrnn process sets up JAX: the on-disk compilation cache, one XLA CPU device per
core, SIGTERM as Ctrl-C (the command line), and the thread budget of a sweep's workers. Each
must run before JAX starts a backend."""

from __future__ import annotations

import os
import sys


#: Programs that compiled in at least this many seconds are kept on disk. 0: every program, the
#: small ones included: reading a run's state initialises its networks eagerly, dozens of small
#: programs, 4.7 s of every verb with a threshold of 0.5 s and 1.1-1.4 s with all of them kept
#: (docs/benchmarks.md, "Start-up").
CACHE_MIN_COMPILE_S = 0.0


def enable_compilation_cache() -> None:
    """Keep compiled XLA programs on disk so that repeated commands skip most of the compile time
    (set REWARDRNN_COMPILATION_CACHE=0 to switch off, or to a folder to move it)."""
    setting = os.environ.get("REWARDRNN_COMPILATION_CACHE", "")
    if setting == "0":
        return
    folder = setting or os.path.join(os.path.expanduser("~"), ".cache", "rewardrnn", "xla")
    if "jax" not in sys.modules:  # JAX reads these when it is imported: the CLI starts without importing it
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
        os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = str(CACHE_MIN_COMPILE_S)
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_S)


def one_host_device_per_core() -> None:
    """Let XLA see one CPU device per core, so that several seeds train in parallel on a CPU
    and a single seed validates on a second core (the trainer spreads work over devices). XLA
    reads the flag when JAX first starts a backend, which no import does, so setting it here
    in the entry point is in time."""
    flag = "--xla_force_host_platform_device_count"
    if flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}={cores()}".strip()


_stop_requested = False


def stop_on_sigterm() -> None:
    """Treat SIGTERM (a batch scheduler's time limit, ``kill``) like Ctrl-C: the trainer stops at
    the next chunk boundary and keeps its last checkpoint, so the run can be resumed. The signal
    is also remembered (:func:`stop_requested`): a KeyboardInterrupt raised while Python runs a
    callback that swallows exceptions (JAX's garbage-collection hook) would otherwise be lost."""
    import signal

    def interrupt(signum, frame):
        global _stop_requested
        _stop_requested = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def stop_requested() -> bool:
    """Whether SIGTERM arrived (:func:`stop_on_sigterm`); the trainer checks it between chunks."""
    return _stop_requested


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_environment(threads: int) -> dict[str, str]:
    """Environment variables of a sweep worker that may use ``threads`` cores: as many XLA CPU
    devices, single-threaded Eigen when it has one core (so that workers do not oversubscribe
    the machine), and no GPU memory preallocation (points share a GPU)."""
    threads = max(1, int(threads))
    flags = [f"--xla_force_host_platform_device_count={threads}"]
    if threads == 1:
        flags.append("--xla_cpu_multi_thread_eigen=false")
    return {"XLA_FLAGS": " ".join(flags), "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
