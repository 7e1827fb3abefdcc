import atexit
import os
import shutil
import tempfile

# Two CPU devices, as the CLI sets up on a 2-core machine, so that the tests exercise the
# trainer's spreading of seeds over devices.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

# One persistent compilation cache for the whole test session, as the CLI keeps one for a user:
# the tests compile the same small programs many times (in this process, in the xdist workers,
# which inherit the variable, and in the CLI subprocesses), and compilation is most of their
# time (measured: 415 s -> 224 s for three test files). A fresh folder, so that no earlier
# session's programs are reused; removed at exit by the process that made it. Set
# REWARDRNN_COMPILATION_CACHE yourself (e.g. to 0) to override.
if "REWARDRNN_COMPILATION_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="rewardrnn-test-xla-")
    os.environ["REWARDRNN_COMPILATION_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)

# This session's own list of trusted task files (rewardrnn.tasks.trust), never the user's: the
# xdist workers and CLI subprocesses inherit it.
if "REWARDRNN_TRUST_FILE" not in os.environ:
    _trust_dir = tempfile.mkdtemp(prefix="rewardrnn-test-trust-")
    os.environ["REWARDRNN_TRUST_FILE"] = os.path.join(_trust_dir, "trusted-tasks.json")
    atexit.register(shutil.rmtree, _trust_dir, ignore_errors=True)

import jax  # noqa: E402

from rewardrnn import runtime  # noqa: E402

jax.config.update("jax_platforms", "cpu")
runtime.enable_compilation_cache()
