"""Miconi 2017's gradient-alignment experiment (paper Fig. 9; spec miconi2017.md §4.5,
``additionalexperiments/gradients/netRNN.cpp``): does the Hebbian trace S(r_j dx_i) point the
same way as node perturbation, whose trace uses the (unobservable) kick itself?

Setup, as the original: one network, N = 200, g = 1.5, tau = 30 ms, dt = 1 ms, 10 inputs with
W_in ~ 0.2 U(-1, 1) into every neuron, T = 300 ms, x starting at 0. Each episode draws an input
u ~ U(-1, 1)^10 shown for t = 0..99 and the target sign(sum u) for neuron 0, error = mean
|r_0 - target| over t = 200..299. An episode is a pair of trials with the same input: one with no
perturbation (error E0), one with a single kick of +-16 (random sign) on neuron 0 at t = 210
(error E). For one random presynaptic neuron j per episode the weight-change estimates are
``-eta (E - E0) trace`` with the traces

* node perturbation: r_j(209) xi;
* Hebbian with S: sum over t > 200 of S(r_j(t-1) dx_0(t)), dx = x - xbar (alpha 0.05),

and the agreement of each S with node perturbation is the Spearman rank correlation over
episodes. The paper: cube and x|x| follow node perturbation closely; identity and square root
give essentially random estimates.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from rewardrnn.learners.perturbation import NONLINEARITIES
from rewardrnn.networks import rate

N_INPUTS, N_STEPS, INPUT_STEPS, ERROR_START, KICK_STEP, KICK_SIZE, ETA = 10, 300, 100, 200, 210, 16.0, 0.1


def run_episodes(key: jax.Array, n_episodes: int = 500, n_units: int = 200) -> dict[str, Any]:
    """Run ``n_episodes`` pairs of trials; returns the per-episode estimates (name -> (n,) array)
    and the Spearman correlation of each S with node perturbation."""
    k_net, k_in, k_u, k_sign, k_syn = jax.random.split(key, 5)
    config = rate.RateConfig(n_inputs=N_INPUTS, n_units=n_units, bias_units=(), bias_values=())
    params = rate.init(k_net, config)
    params["W_in"] = 0.2 * jax.random.uniform(k_in, (n_units, N_INPUTS), jnp.float32, -1.0, 1.0)
    a = 1.0 / config.tau_ms
    u = jax.random.uniform(k_u, (n_episodes, N_INPUTS), jnp.float32, -1.0, 1.0)
    target = jnp.sign(u.sum(-1))
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n_episodes,)), 1.0, -1.0)
    synapse = jax.random.randint(k_syn, (n_episodes,), 0, n_units)
    shown = (jnp.arange(N_STEPS) < INPUT_STEPS)[:, None, None] * u[None]  # (T, B, n_in)

    def trial(kick_size):
        kicks = jnp.zeros((N_STEPS, n_episodes, n_units)).at[KICK_STEP, :, 0].set(kick_size)

        def body(carry, step_in):
            x, xbar = carry
            u_t, kick = step_in
            r_prev = rate.rates(x, config)
            x = rate.step(params, config, x, u_t, kick, a)
            dx = x - xbar
            return (x, 0.05 * xbar + 0.95 * x), (rate.rates(x, config)[:, 0], r_prev, dx[:, 0])

        zeros = jnp.zeros((n_episodes, n_units))
        _, (out, r_prev, dx0) = jax.lax.scan(body, (zeros, zeros), (shown, kicks))
        error = jnp.abs(out[ERROR_START:] - target).mean(0)
        return error, r_prev, dx0

    e0, _, _ = jax.jit(lambda: trial(jnp.zeros(n_episodes)))()
    e, r_prev, dx0 = jax.jit(lambda: trial(sign * KICK_SIZE))()
    pick = jnp.arange(n_episodes)
    r_j = r_prev[:, pick, synapse]  # (T, B): the logged presynaptic rate of each episode
    later = (jnp.arange(N_STEPS) > ERROR_START)[:, None]
    delta = -ETA * (e - e0)
    # r_prev[t] is r(t - 1), the rate that entered the update of x(t): r_j(209) at the kick.
    estimates = {"node-perturbation": delta * r_j[KICK_STEP] * sign * KICK_SIZE}
    for name, s in NONLINEARITIES.items():
        estimates[name] = delta * jnp.sum(later * s(r_j * dx0), axis=0)
    estimates = {k: np.asarray(v, np.float64) for k, v in estimates.items()}
    reference = estimates["node-perturbation"]
    correlation = {name: float(stats.spearmanr(reference, estimates[name]).statistic) for name in NONLINEARITIES}
    return {"estimates": estimates, "spearman_vs_node_perturbation": correlation, "n_episodes": n_episodes}
