"""A manipulation as arrays (:class:`Applied`), the same for every network a manipulation acts
on (Song et al.'s gated network, :mod:`.gated`; Miconi's rate network, :mod:`.rate`): which
units are silenced, the current added to each unit, the extra noise, the weights kept and the
epochs in which it acts."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Applied:
    """One manipulation as arrays: ``silenced`` (N,) bool, ``current`` (N,), ``noise_std`` (),
    kept weights ``keep_rec`` (N, N; presynaptic rows), ``keep_in`` (n_inputs, N) and
    ``keep_out`` (N, n_actions), 1 kept and 0 cut, and ``during`` (n_flags,) the epoch flags in
    which it acts (the task's ``flag_names``). Static: whether it acts over the whole trial,
    and which parts are there (so that an absent part costs nothing)."""

    silenced: jax.Array
    current: jax.Array
    noise_std: jax.Array
    keep_rec: jax.Array
    keep_in: jax.Array
    keep_out: jax.Array
    during: jax.Array
    whole_trial: bool = dataclasses.field(metadata=dict(static=True), default=True)
    cuts: bool = dataclasses.field(metadata=dict(static=True), default=False)
    noisy: bool = dataclasses.field(metadata=dict(static=True), default=False)

    @classmethod
    def build(cls, n_units: int, n_inputs: int, n_actions: int, n_flags: int, *, silenced=(), current=None,
              noise_std: float = 0.0, keep_rec=None, keep_in=None, keep_out=None, during=None) -> Applied:
        """From numpy pieces (None: nothing of that kind); ``during`` (n_flags,) bool or None
        for the whole trial."""
        mask = np.zeros(n_units, bool)
        mask[np.asarray(silenced, int)] = True
        ones = lambda shape: np.ones(shape, np.float32)  # noqa: E731
        cuts = any(k is not None and not np.all(k == 1) for k in (keep_rec, keep_in, keep_out))
        return cls(silenced=jnp.asarray(mask), current=jnp.asarray(np.zeros(n_units) if current is None else current,
                                                                  jnp.float32),
                   noise_std=jnp.asarray(noise_std, jnp.float32),
                   keep_rec=jnp.asarray(ones((n_units, n_units)) if keep_rec is None else keep_rec, jnp.float32),
                   keep_in=jnp.asarray(ones((n_inputs, n_units)) if keep_in is None else keep_in, jnp.float32),
                   keep_out=jnp.asarray(ones((n_units, n_actions)) if keep_out is None else keep_out, jnp.float32),
                   during=jnp.asarray(np.ones(n_flags, bool) if during is None else during),
                   whole_trial=during is None, cuts=bool(cuts), noisy=bool(noise_std > 0))

    def on(self, flags: jax.Array) -> jax.Array:
        """(B,) whether the manipulation acts at this step, from the step's epoch flags (B, n_flags)."""
        if self.whole_trial:
            return jnp.ones(flags.shape[:-1], bool)
        return jnp.any(flags & self.during, axis=-1)
