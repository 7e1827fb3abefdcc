"""Epoch-duration samplers (Song et al. 2017 spec §5, "Common conventions").

Every sampler draws a duration in **ms** and floors it to a multiple of ``dt`` as pyrl does
(``floor(x / dt) * dt``). All are pure JAX functions of a key, so whole batches of trials are
drawn at once inside ``jit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rewardrnn.deferred import jax, jnp


def floor_to_dt(duration_ms: jax.Array, dt_ms: float) -> jax.Array:
    """Floor durations (ms) to a multiple of ``dt_ms`` (pyrl's convention)."""
    return jnp.floor(duration_ms / dt_ms) * dt_ms


@dataclass(frozen=True)
class Fixed:
    """A fixed duration of ``ms`` milliseconds, used as is (pyrl does not floor constants:
    epoch membership ``start <= k*dt < end`` handles durations that are not multiples of dt)."""

    ms: float

    def sample(self, key: jax.Array, shape: tuple[int, ...], dt_ms: float) -> jax.Array:
        del key, dt_ms
        return jnp.full(shape, self.ms, jnp.float32)

    @property
    def min_ms(self) -> float:
        return self.ms

    @property
    def max_ms(self) -> float:
        return self.ms

    @property
    def mean_ms(self) -> float:
        return self.ms


@dataclass(frozen=True)
class Uniform:
    """pyrl's ``uniform(a, b)``: ``floor(U(low, high) / dt) * dt`` ms."""

    low: float
    high: float

    def sample(self, key: jax.Array, shape: tuple[int, ...], dt_ms: float) -> jax.Array:
        x = jax.random.uniform(key, shape, jnp.float32, self.low, self.high)
        return floor_to_dt(x, dt_ms)

    @property
    def min_ms(self) -> float:
        return self.low

    @property
    def max_ms(self) -> float:
        return self.high

    @property
    def mean_ms(self) -> float:
        return 0.5 * (self.low + self.high)


@dataclass(frozen=True)
class TruncatedExponential:
    """pyrl's ``truncexp(mean, [low, high))`` plus an optional constant ``offset`` (ms).

    pyrl redraws ``Exp(mean)`` until ``low <= x < high`` (rejection sampling). The accepted
    draws follow the exponential density restricted to ``[low, high)``, which we sample
    directly by inverting its CDF: the same distribution, with no loop inside ``jit``.
    The result ``offset + x`` is floored to ``dt``. Used e.g. for the random-dots stimulus,
    ``TruncatedExponential(330, 80, 1500)`` (spec §5.1).
    """

    mean: float
    low: float
    high: float
    offset: float = 0.0

    def sample(self, key: jax.Array, shape: tuple[int, ...], dt_ms: float) -> jax.Array:
        u = jax.random.uniform(key, shape, jnp.float32)
        span = 1.0 - math.exp(-(self.high - self.low) / self.mean)
        x = self.low - self.mean * jnp.log1p(-u * span)
        x = jnp.minimum(x, jnp.nextafter(jnp.float32(self.high), jnp.float32(0)))
        return floor_to_dt(self.offset + x, dt_ms)

    @property
    def min_ms(self) -> float:
        return self.offset + self.low

    @property
    def max_ms(self) -> float:
        return self.offset + self.high

    @property
    def mean_ms(self) -> float:
        """Mean (ms) of the truncated distribution, before flooring to dt."""
        a, b, m = self.low, self.high, self.mean
        z = 1.0 - math.exp(-(b - a) / m)
        return self.offset + a + m - (b - a) * math.exp(-(b - a) / m) / z


Sampler = Fixed | Uniform | TruncatedExponential
