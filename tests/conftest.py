import os

# Two CPU devices, as the CLI sets up on a 2-core machine, so that the tests exercise the
# trainer's spreading of seeds over devices.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax  # noqa: E402

jax.config.update("jax_platforms", "cpu")
