"""Song et al.'s actor-critic on any NeuroGym environment (optional extra:
``pip install rewardrnn[neurogym]``): ``rewardrnn train ngym:PerceptualDecisionMaking-v0``.

NeuroGym tasks are numpy environments stepped one call at a time, so a batch of trials is
simulated in Python over ``n_gradient`` environments side by side: at each time step one
compiled call advances the decision network of every environment and samples their actions,
then each environment takes its step. The gradient pass is compiled as for the native tasks: it
re-runs the network on the recorded observations and noise (the policy gets no action feedback,
so the trajectory is the same), with the value network and the loss of
:meth:`~rewardrnn.learners.actor_critic.ActorCritic.objective`.

Conventions. One trial is one episode of the actor-critic: the network starts each trial from
its initial state, sees the trial's first observation, then acts; an environment's trial ends
when NeuroGym says ``new_trial`` (its next trial waits for the next batch). A *decision* is a
non-fixation action (action 0 is fixation in NeuroGym) taken in the ``decision`` period; it is
correct when it equals the ground truth ``gt``. The t = 0 term uses G_0 (the paper's equation):
NeuroGym's fixation breaks do not end a trial unless the environment is built with
``abort=True``, so pyrl's R[0] workaround is not needed. Validation: every ``checkfreq``
updates, ``n_validation`` trials with the stochastic policy; the run stops when
P(correct | decision) >= ``target`` and P(decision) >= ``min_p_decision``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.learners.actor_critic import ActorCritic, ActorCriticConfig, LearnerState
from rewardrnn.networks import gru
from rewardrnn.training import checkpoint

#: Prefix of NeuroGym task names on the command line.
PREFIX = "ngym:"


@dataclass(frozen=True)
class NeuroGymTrainConfig:
    """A NeuroGym training run. ``task`` is ``ngym:<environment id>``; ``env_kwargs`` go to
    ``gymnasium.make`` (e.g. ``{"dt": 20}``; the network's dt is the environment's)."""

    task: str = "ngym:PerceptualDecisionMaking-v0"
    learner: str = "neurogym"
    seed: int = 1
    env_kwargs: dict = field(default_factory=dict)
    N: int = 100
    lr: float = 0.004
    baseline_lr: float = 0.004
    n_gradient: int = 20
    max_updates: int = 2000
    checkfreq: int = 50
    n_validation: int = 200
    target: float = 0.8
    min_p_decision: float = 0.9
    max_trial_steps: int = 1000

    def __post_init__(self) -> None:
        if not self.task.startswith(PREFIX) or len(self.task) == len(PREFIX):
            raise ConfigError(f"a NeuroGym task is named {PREFIX}<environment id>, got {self.task!r}")
        for name in ("N", "n_gradient", "max_updates", "checkfreq", "n_validation", "max_trial_steps"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if not (self.lr > 0 and self.baseline_lr > 0):
            raise ConfigError(f"learning rates must be > 0, got lr={self.lr!r}, baseline_lr={self.baseline_lr!r}")

    @property
    def env_id(self) -> str:
        return self.task[len(PREFIX):]

    @property
    def seeds(self) -> list[int]:
        return [self.seed]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NeuroGymTrainConfig:
        return cls(**data)


def make_env(config: NeuroGymTrainConfig, index: int = 0):
    """One NeuroGym environment (seeded ``seed * 1000 + index``) and its first observation."""
    try:
        import gymnasium
        import neurogym  # noqa: F401  (registers its environments)
    except ImportError as error:
        raise ConfigError(f"NeuroGym tasks need the neurogym extra ({error}); "
                          "`pip install 'rewardrnn[neurogym]'`") from None
    try:
        env = gymnasium.make(config.env_id, **config.env_kwargs)
    except gymnasium.error.Error as error:
        raise ConfigError(f"cannot make NeuroGym environment {config.env_id!r}: {error}") from None
    first, _ = env.reset(seed=config.seed * 1000 + index)
    return env, np.asarray(first, np.float32)


def build_learner(config: NeuroGymTrainConfig, env) -> ActorCritic:
    """The actor-critic sized for ``env`` (its dt, observation and action sizes), with the
    paper's network constants (spec §3.6) and learning rates (§4.6)."""
    n_in, n_actions = env.observation_space.shape[0], int(env.action_space.n)
    policy = gru.GRUConfig(n_inputs=n_in, n_outputs=n_actions, n_units=config.N)
    value = gru.GRUConfig(n_inputs=config.N + n_actions, n_outputs=1, n_units=config.N, input_scale_units=config.N)
    learning = ActorCriticConfig(n_gradient=config.n_gradient, lr=config.lr, baseline_lr=config.baseline_lr)
    return ActorCritic(_EnvSizes(float(env.unwrapped.dt), n_actions), policy, value, learning)


@dataclass(frozen=True)
class _EnvSizes:
    """What the actor-critic reads of an environment it does not simulate itself."""

    dt_ms: float
    n_actions: int


class NeuroGymSimulator:
    """``n_envs`` NeuroGym environments side by side and the compiled network step."""

    def __init__(self, config: NeuroGymTrainConfig, learner: ActorCritic, n_envs: int, offset: int = 0):
        made = [make_env(config, offset + i) for i in range(n_envs)]
        self.envs = [env for env, _ in made]
        self.obs = [first for _, first in made]
        self.max_steps = config.max_trial_steps
        n_units, n_actions = learner.policy_config.n_units, learner.env.n_actions

        def act(policy, masks, x, u, key):
            k_noise, k_act = jax.random.split(key)
            q = learner.policy_noise * jax.random.normal(k_noise, x.shape, jnp.float32)
            x = gru.stepper(policy, masks, learner.alpha)(x, u, q)
            gumbel = jax.random.gumbel(k_act, x.shape[:1] + (n_actions,), jnp.float32)
            return x, jnp.argmax(gru.readout(policy, x) + gumbel, axis=-1)

        self._act = jax.jit(act)
        self.n_units = n_units

    def run(self, policy, masks, key) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One trial in every environment. Returns the batch (``inputs`` (T+1, B, n_in), row t
        seen before action t; ``actions``, ``reward``, ``mask`` (T, B)) and per-trial
        ``decision``, ``correct``, ``reward``. The recurrent noise of step t is drawn from
        ``fold_in(key, t)``, so the gradient pass can draw it again."""
        n = len(self.envs)
        x = jnp.broadcast_to(policy["x0"], (n, self.n_units))
        alive = np.ones(n, bool)
        end_step = np.full(n, self.max_steps - 1)
        inputs, actions, rewards = [np.stack(self.obs)], [], []
        decision, correct = np.zeros(n, bool), np.zeros(n, bool)
        t = 0
        while alive.any() and t < self.max_steps:
            x, action = self._act(policy, masks, x, jnp.asarray(inputs[-1]), jax.random.fold_in(key, t))
            action = np.asarray(action)
            next_inputs, reward_t = np.zeros_like(inputs[0]), np.zeros(n, np.float32)
            for i in np.flatnonzero(alive):
                env = self.envs[i].unwrapped
                in_decision, gt = env.in_period("decision"), env.gt_now
                ob, reward_t[i], _, _, info = self.envs[i].step(int(action[i]))
                if info.get("new_trial", False):
                    alive[i], end_step[i] = False, t
                    decision[i] = in_decision and action[i] != 0
                    correct[i] = decision[i] and action[i] == gt
                    self.obs[i] = np.asarray(ob, np.float32)  # the first observation of its next trial
                else:
                    next_inputs[i] = ob
            actions.append(action)
            rewards.append(reward_t)
            inputs.append(next_inputs)
            t += 1
        mask = (np.arange(t)[:, None] <= end_step[None, :]).astype(np.float32)
        batch = {"inputs": np.stack(inputs), "actions": np.where(mask > 0, np.stack(actions), 0).astype(np.int32),
                 "reward": np.stack(rewards) * mask, "mask": mask}
        return batch, {"decision": decision, "correct": correct, "reward": batch["reward"].sum(0)}


def batch_losses(learner: ActorCritic):
    """The loss of a simulated NeuroGym batch, for :meth:`ActorCritic.update_with`."""

    def losses(policy, value, state: LearnerState, key, noise_key, inputs, actions, reward, mask):
        steps, batch = actions.shape
        noise = jax.vmap(lambda t: learner.policy_noise * jax.random.normal(
            jax.random.split(jax.random.fold_in(noise_key, t))[0], (batch, learner.policy_config.n_units),
            jnp.float32))(jnp.arange(steps))
        noise = jnp.concatenate([noise, jnp.zeros_like(noise[:1])])
        states = gru.run(policy, state.policy_masks, inputs, noise, learner.alpha)[1:]  # x after input t
        _, v = learner.values(value, state.value_masks, key, states, actions)
        return learner.objective(gru.readout(policy, states), actions, v, reward, mask)

    return losses


def _padded(batch: dict[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """Pad the time axis to ``steps`` (a few compiled shapes instead of one per trial length)."""
    pad = steps - batch["actions"].shape[0]
    return {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}


def _bucket(steps: int) -> int:
    return int(2 ** np.ceil(np.log2(max(steps, 8))))


def train_neurogym(config: NeuroGymTrainConfig, out: Path | str, *, resume: bool = False, overwrite: bool = False,
                   progress: bool = True) -> dict[str, Any]:
    """Train the actor-critic on ``config.env_id`` into the run folder ``out``; returns the summary."""
    from rewardrnn.training import run_folder

    out = Path(out)
    config = run_folder.prepare(out, config, resume, overwrite)
    probe, _ = make_env(config)
    learner = build_learner(config, probe)
    state = learner.init(jax.random.PRNGKey(config.seed))
    history, wall_before = [], 0.0
    ckpt = out / run_folder.CHECKPOINT
    if resume and ckpt.exists():
        state, meta = checkpoint.load(ckpt, state)
        state = jax.tree_util.tree_map(jnp.asarray, state)
        history, wall_before = meta["history"], meta["wall_s"]
    trainer = NeuroGymSimulator(config, learner, config.n_gradient)
    validator = NeuroGymSimulator(config, learner, config.n_validation, offset=10_000)
    update = jax.jit(lambda s, noise_key, *b: learner.update_with(s, batch_losses(learner), noise_key, *b))
    started = time.perf_counter()
    wall = lambda: wall_before + time.perf_counter() - started  # noqa: E731
    sim_s = 0.0
    reached = None
    if progress:
        print(f"training the actor-critic on NeuroGym {config.env_id} (dt {learner.env.dt_ms:g} ms, "
              f"{config.n_gradient} environments per update)", flush=True)
    while int(state.updates) < config.max_updates:
        key = jax.random.fold_in(jax.random.PRNGKey(config.seed + 7919), int(state.updates))
        t0 = time.perf_counter()
        batch, _ = trainer.run(state.policy, state.policy_masks, key)
        sim_s += time.perf_counter() - t0
        padded = _padded(batch, _bucket(batch["actions"].shape[0]))
        state, metrics = update(state, key, *(jnp.asarray(padded[k]) for k in ("inputs", "actions", "reward", "mask")))
        if int(state.updates) % config.checkfreq == 0:
            _, trials = validator.run(state.policy, state.policy_masks, jax.random.fold_in(key, 1))
            n_decision = max(int(trials["decision"].sum()), 1)
            row = {"updates": int(state.updates), "trials": int(state.updates) * config.n_gradient,
                   "reward": float(trials["reward"].mean()), "p_decision": float(trials["decision"].mean()),
                   "p_correct": float(trials["correct"].sum() / n_decision), "wall_s": round(wall(), 2),
                   "simulation_s": round(sim_s, 2)}
            history.append(row)
            run_folder.write_csv(out / run_folder.METRICS, history)
            checkpoint.save(ckpt, state, {"history": history, "wall_s": wall(), "config": config.to_dict()})
            if progress:
                print(f"updates {row['updates']:>6}  trials {row['trials']:>7}  reward {row['reward']:+.3f}  "
                      f"P(decision) {row['p_decision']:.3f}  P(correct) {row['p_correct']:.3f}  {row['wall_s']:7.1f} s",
                      flush=True)
            if row["p_correct"] >= config.target and row["p_decision"] >= config.min_p_decision:
                reached = row["trials"]
                break
    summary = {"task": config.task, "learner": "neurogym", "env_dt_ms": learner.env.dt_ms,
               "criterion": f"P(correct | decision) >= {config.target} and P(decision) >= {config.min_p_decision}",
               "seeds": [{"seed": config.seed, "reached_criterion": reached is not None, "trials_to_criterion": reached,
                          "best_reward": max((r["reward"] for r in history), default=float("nan"))}],
               "updates": int(state.updates), "wall_s": round(wall(), 2), "resolved_config": config.to_dict(),
               "last_validation": history[-1] if history else None}
    run_folder.write_json(out / run_folder.SUMMARY, summary)
    return summary
