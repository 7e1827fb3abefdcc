"""Named random-key streams, in one place, so that no two uses of randomness collide and the
same seed gives the same result everywhere.

Training: seed ``s`` of a run starts from ``PRNGKey(s)`` (:meth:`Learner.init`). The other
streams are independent of training, so evaluating or recording a network never changes it.
"""

from __future__ import annotations

import contextlib

import numpy as np

from rewardrnn.deferred import jax

#: Folded into a learner's training key to draw its validation trials (spec §4.7).
VALIDATION_STREAM = 0x5EED
#: ``PRNGKey`` of ``rewardrnn evaluate`` (behaviour tables).
EVALUATION_SEED = 1
#: ``PRNGKey`` of ``rewardrnn record`` (activity datasets).
RECORD_SEED = 2
#: numpy seed of the candidate draw of ``rewardrnn fixedpoints``.
FIXED_POINT_SEED = 3
#: Folded into a Miconi learner's keys for its value network (initialisation, noise), so the
#: decision network's streams are those of the other reward baselines.
VALUE_NETWORK_STREAM = 0xBA5E
#: Folded (with the attempt number) into ``PRNGKey(s)`` to start a stalled seed afresh
#: (``--restart-stalled``): attempt k of seed s starts from ``fold(PRNGKey(s), RESTART_STREAM, k)``.
RESTART_STREAM = 0x2E57
#: Stream of the action-sampling and recurrent noise of trials simulated on the host (NeuroGym).
HOST_BATCH_STREAM = 7919
#: Folded into a seed's key for the local rule's fixed random feedback weights (``--learner local``),
#: so the decision and value networks start as the actor-critic's of the same seed.
FEEDBACK_STREAM = 0xFEED
#: Folded into a trial's noise key: the stream of a manipulation's extra noise (``rewardrnn perturb``).
MANIPULATION_NOISE_STREAM = 0x4E015E
#: Streams of the NeuroGym environments' own random generators: training, validation,
#: ``evaluate`` and ``record``.
ENV_TRAIN, ENV_VALIDATION, ENV_EVALUATION, ENV_RECORD = 0, 1, 2, 3


def env_seed(seed: int, stream: int, update: int, index: int) -> int:
    """A 32-bit seed for one host environment (NeuroGym's numpy generator): a function of the
    run's seed, the stream, the update count and the environment's index, so that every batch
    is reproducible and a resumed run draws the same trials as an uninterrupted one."""
    return int(np.random.SeedSequence([seed, stream, update, index]).generate_state(1)[0])


def fold(key: jax.Array, *numbers: int) -> jax.Array:
    """``key`` with each number folded in, in order."""
    for number in numbers:
        key = jax.random.fold_in(key, number)
    return key


def fast_threefry():
    """A context in which ``jax.random`` draws with the classic (non-partitionable) threefry
    counter layout: the same generator, another stream, and on a CPU about twice as fast as the
    partitionable layout JAX uses by default (2.0 ms against 4.4 ms for 225 steps of noise for
    10 trials of 100 units, docs/benchmarks.md). The simulation's noise draws run in it
    (:func:`rewardrnn.networks.gru.block_noise`, the actor-critic's batches, Miconi's kicks);
    a JAX without the switch draws with its default layout."""
    switch = getattr(jax, "threefry_partitionable", None)
    return switch(False) if switch is not None else contextlib.nullcontext()
