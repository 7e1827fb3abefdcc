"""Tasks whose unit is an *episode* of many trials: bandits, reversals and the two-step task.

In the value-based paradigms of Wang et al. 2018 ("Prefrontal cortex as a meta-reinforcement
learning system", Nat. Neurosci. 21:860) which option is best must be learned from outcomes,
within a session: the network's state carries over from trial to trial, the trials' rewards
depend on latent variables drawn once per episode (the arms' reward probabilities, which option
is better, when a reversal comes), and the network sees its previous action and reward as inputs
(NeuroGym's ``PassAction`` / ``PassReward``).

An :class:`EpisodeTask` is a pure, vectorised step environment (gymnax's style), over a batch
of episodes at once:

* ``latents(key, n)``: the episode-level variables of ``n`` episodes, a dict of arrays with a
  leading axis n; it includes every random number the rewards and transitions will use (drawn
  up front, so that an episode's outcomes are a deterministic function of its latents and the
  actions, and the differentiable pass can rebuild its inputs exactly).
* ``memory(n)``: what the environment remembers between steps (the previous action and reward,
  the state reached in the second stage...), a dict of (n,) arrays.
* ``transition(latents, k, action, memory) -> (reward, memory, observation, info)``: the action
  (n,) taken at step ``k`` (a Python int or a traced scalar) earns ``reward`` (n,) and gives
  the observation (n, n_inputs) that the network sees next (the input of step k+1: the engine's
  convention, :mod:`rewardrnn.tasks.engine`, step 0 acts on the initial state alone); ``info``
  is a dict of (n,) arrays describing the step (the trial, its choice...), kept per step for the
  behaviour table.

An episode is ``n_trials`` trials of ``steps_per_trial`` steps each (T = n_trials x
steps_per_trial steps, a fixed length: the trials are short and fixed, there is no fixation to
break). A one-trial task of :mod:`rewardrnn.tasks.protocol` is not rewritten as one of these:
its trials end at the choice and keep pyrl's trial rules, bit for bit.

The defaults of the three tasks follow Wang et al. 2018's Methods as this module's authors read
them (they are not in ``../shared/reference``): two arms, episodes of 100 trials, p_L ~ U(0, 1)
and p_R = 1 - p_L, inputs of the previous action (one-hot), the previous reward and the trial
number, a discount of 0.9 per trial; the two-step task's common/rare transitions 0.8/0.2 (Daw et
al. 2011) and second-stage reward probabilities 0.9/0.1 that swap with probability 0.025 on each
trial. Each default is a field a user can change (``dataclasses.replace`` or the task factories'
arguments).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardrnn.deferred import jax, jnp
from rewardrnn.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

Latents = Mapping[str, "jax.Array"]
Memory = dict[str, "jax.Array"]


#: The return's discount per trial of an episode (Wang et al. 2018's; NeuroGym sessions use it too).
WANG_DISCOUNT = 0.9


@dataclass(frozen=True)
class EpisodeCriterion:
    """Stop when, on fresh episodes (new latent draws), the better option is chosen on at least
    ``min_p_better`` of the trials from ``from_trial`` (1-based) to the episode's end, counting
    only the episodes whose options differ by at least ``min_gap`` in reward probability (Wang
    et al. 2018 report learning within episodes after the first ~10 trials; |p_L - p_R| >= 0.3
    is where the better arm is clearly learnable in 100 trials)."""

    min_p_better: float = 0.8
    from_trial: int = 11
    min_gap: float = 0.3

    def met(self, performance: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(performance["p_better"]) >= self.min_p_better

    def gap(self, performance: Mapping[str, Any]) -> np.ndarray:
        return np.maximum(0.0, self.min_p_better - np.asarray(performance["p_better"], np.float64))

    def unmet(self, performance: Mapping[str, Any]) -> str:
        try:
            value = float(performance.get("p_better"))
        except (TypeError, ValueError):
            return ""
        if not math.isfinite(value) or value >= self.min_p_better:
            return ""
        return f"P(better option, trials {self.from_trial}+) {value:.3f} < {self.min_p_better:g}"

    def describe(self) -> str:
        among = (f" of episodes whose options differ by >= {self.min_gap:g} in reward probability"
                 if self.min_gap > 0 else "")
        return f"P(better option) >= {self.min_p_better:g} over trials {self.from_trial}+{among}"


@dataclass(frozen=True)
class EpisodeTask:
    """An episodic task (module docstring). ``inputs`` and ``actions`` name the channels and
    actions; ``discount`` is the default discount per trial of the return (1: none);
    ``decision_step`` is the step of a trial whose action is the trial's choice (the one the
    behaviour table and the criterion read); ``better(latents, trial)`` (n, n_trials) gives, per
    trial, the index of the better choice (-1 where the options are equal) and ``option_gap``
    (n,) how much they differ (reward probability) for the criterion."""

    name: str
    summary: str
    reference: str
    inputs: tuple[str, ...]
    actions: tuple[str, ...]
    n_trials: int
    steps_per_trial: int
    latents: Callable[[jax.Array, int], dict[str, jax.Array]]
    memory: Callable[[int], Memory]
    transition: Callable[[Latents, Any, jax.Array, Memory], tuple[jax.Array, Memory, jax.Array, dict]]
    better: Callable[[Latents], jax.Array]
    option_gap: Callable[[Latents], jax.Array]
    decision_step: int = 0
    discount: float = WANG_DISCOUNT
    criterion: EpisodeCriterion = field(default_factory=EpisodeCriterion)
    n_validation: int = 200  # episodes per validation
    n_gradient: int = 20  # episodes per update
    N: int = 48  # Wang et al. 2018's LSTM had 48 units

    @property
    def n_steps(self) -> int:
        return self.n_trials * self.steps_per_trial

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_actions(self) -> int:
        return len(self.actions)


def play(task: EpisodeTask, latents: Latents, actions: jax.Array) -> dict[str, jax.Array]:
    """Judge whole action sequences ``actions`` (T, n) of episodes with ``latents``: one scan of
    the task's transition. Returns ``reward`` (T, n), ``inputs`` (T, n, n_inputs), the
    ``actions`` and the task's per-step info, each (T, n). The inputs are those the network saw
    (row k drives its state k -> k+1), so a differentiable pass can run on them."""
    n = actions.shape[1]

    def one(memory, k_action):
        k, action = k_action
        reward, memory, observation, info = task.transition(latents, k, action, memory)
        return memory, (reward, observation, info)

    _, (reward, inputs, info) = jax.lax.scan(one, task.memory(n), (jnp.arange(task.n_steps), actions))
    return {"reward": reward, "inputs": inputs, "actions": actions, **info}


def choices(task: EpisodeTask, played: Mapping[str, jax.Array]) -> jax.Array:
    """The choice of each trial, (n, n_trials): the action at the trial's decision step."""
    a = jnp.asarray(played["actions"])
    return a[task.decision_step::task.steps_per_trial].T


def trial_rewards(task: EpisodeTask, played: Mapping[str, jax.Array]) -> jax.Array:
    """Each trial's total reward, (n, n_trials)."""
    r = jnp.asarray(played["reward"])
    return r.reshape(task.n_trials, task.steps_per_trial, -1).sum(1).T


def performance(task: EpisodeTask, latents: Latents, played: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
    """Validation numbers of a batch of episodes: mean reward per trial (``reward``, reward
    units), and ``p_better``, P(better option chosen) over the criterion's trials of the
    episodes whose options differ by at least its gap (NaN-free: 0 when there is none)."""
    c = task.criterion
    chosen = choices(task, played)
    better = task.better(latents)
    counted = (jnp.arange(task.n_trials) >= c.from_trial - 1)[None, :] & (better >= 0) \
        & (task.option_gap(latents) >= c.min_gap)[:, None]
    hits = jnp.sum(counted & (chosen == better))
    return {"reward": trial_rewards(task, played).mean(),
            "p_better": hits / jnp.maximum(jnp.sum(counted), 1)}


def behaviour_table(task: EpisodeTask, latents: Latents, played: Mapping[str, jax.Array]) -> pd.DataFrame:
    """One row per trial of the episodes played (:func:`play`), the table that
    :mod:`rewardrnn.analysis.episodes` reads: ``episode`` (0-based), ``trial`` (from 1),
    ``choice`` (the action at the trial's decision step), ``reward`` (the trial's total),
    ``better`` (-1 where the options are equal), ``option_gap`` (the episode's difference of the
    options' reward probabilities, as the criterion reads it), ``reversal_trial`` (from 1; the reversal task),
    and the task's per-step information at the decision step (the arms' probabilities; the
    two-step task's ``common`` transition and second-stage ``state2``)."""
    import pandas as pd

    n = np.asarray(played["actions"]).shape[1]
    chosen = np.asarray(choices(task, played))
    columns = {"episode": np.repeat(np.arange(n), task.n_trials), "trial": np.tile(np.arange(1, task.n_trials + 1), n),
               "choice": chosen.ravel(), "reward": np.asarray(trial_rewards(task, played)).ravel(),
               "better": np.asarray(task.better(latents)).ravel(),
               "option_gap": np.repeat(np.asarray(task.option_gap(latents)), task.n_trials)}
    if "reversal_trial" in latents:
        columns["reversal_trial"] = np.repeat(np.asarray(latents["reversal_trial"]) + 1, task.n_trials)
    for name, values in played.items():
        if name in ("reward", "inputs", "actions", "states", "trial", "stage"):
            continue
        columns[name] = np.asarray(values)[task.decision_step::task.steps_per_trial].T.ravel()
    return pd.DataFrame(columns)


def table_performance(task: EpisodeTask, table: pd.DataFrame, criterion_trials: bool = True) -> dict[str, float]:
    """:func:`performance` of a :func:`behaviour_table`: ``p_better`` over the criterion's trials
    and episodes (with ``criterion_trials`` false: over every trial of the table whose options
    differ), ``reward`` per trial (reward units), and the trials counted."""
    c = task.criterion
    counted = table["better"] >= 0
    if criterion_trials:
        counted &= (table["trial"] >= c.from_trial) & (table["option_gap"] >= c.min_gap)
    hits = (table["choice"] == table["better"])[counted]
    return {"p_better": float(hits.mean()) if len(hits) else 0.0, "reward": float(table["reward"].mean()),
            "trials_counted": int(counted.sum())}


def block_performance(task: EpisodeTask, table: pd.DataFrame, size: int = 10) -> list[dict]:
    """:func:`table_performance` over every trial whose options differ, per block of ``size``
    trials of the episode (``trials``: "1-10", "11-20", ...), in order."""
    block = (table["trial"] - 1) // size * size + 1
    return [{"trials": f"{start}-{start + size - 1}", **table_performance(task, part, criterion_trials=False)}
            for start, part in table.groupby(block, sort=True)]


def decision_states(task: EpisodeTask, states: jax.Array) -> np.ndarray:
    """The network's state at each trial's decision step, one row per trial in the order of
    :func:`behaviour_table` (episode-major): ``states`` (T, n, N), the record of
    :meth:`rewardrnn.learners.episodic.EpisodeActorCritic.play_episodes` (x_k from which step
    k's action was drawn), gives (n x n_trials, N)."""
    x = np.asarray(states)[task.decision_step::task.steps_per_trial]  # (n_trials, n, N)
    return x.transpose(1, 0, 2).reshape(-1, x.shape[-1])


# ---- the tasks -----------------------------------------------------------------------------------
def _one_hot(index: jax.Array, n: int) -> jax.Array:
    """One-hot rows (n,) of ``index``, all zero where ``index`` is -1."""
    return jax.nn.one_hot(index, n, dtype=jnp.float32)


def _check_probability(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")


def _check_trials(n_trials: Any) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or not 1 <= n_trials <= 10_000:
        raise ConfigError(f"n_trials must be a whole number of trials per episode in [1, 10000], got {n_trials!r}")


#: The bandits' input channels: the previous trial's choice (one-hot), its reward, and the
#: trial number within the episode divided by the episode's length (Wang et al. 2018).
BANDIT_INPUTS = ("previous-LEFT", "previous-RIGHT", "previous-reward", "trial/n_trials")
BANDIT_ACTIONS = ("LEFT", "RIGHT")
ARMS = ("independent", "correlated")


def _bandit_transition(n_trials: int):
    """The transition of a one-step-per-trial two-armed bandit whose latents hold ``p`` (n, T, 2),
    the arms' reward probability on each trial, and ``u`` (n, T, 2) the uniform draws that
    decide the rewards (arm a pays 1 on trial t when ``u[t, a] < p[t, a]``)."""

    def transition(latents, k, action, memory):
        p = jax.lax.dynamic_index_in_dim(latents["p"], k, axis=1, keepdims=False)
        u = jax.lax.dynamic_index_in_dim(latents["u"], k, axis=1, keepdims=False)
        paid = jnp.take_along_axis(u < p, action[:, None], axis=1)[:, 0]
        reward = paid.astype(jnp.float32)
        trial = jnp.full(action.shape, (k + 1) / n_trials, jnp.float32)
        observation = jnp.concatenate([_one_hot(action, 2), reward[:, None], trial[:, None]], axis=1)
        info = {"trial": jnp.full(action.shape, k, jnp.int32), "p_left": p[:, 0], "p_right": p[:, 1]}
        return reward, memory, observation, info

    return transition


def _better_arm(latents) -> jax.Array:
    p = latents["p"]
    return jnp.where(p[..., 0] > p[..., 1], 0, jnp.where(p[..., 1] > p[..., 0], 1, -1)).astype(jnp.int32)


def bandit(n_trials: int = 100, arms: str = "correlated") -> EpisodeTask:
    """Wang et al. 2018's two-armed bandit: p_L ~ U(0, 1) once per episode and p_R = 1 - p_L
    (``arms="correlated"``, the paper's main bandit) or p_R ~ U(0, 1) drawn independently
    (``"independent"``); a reward of 1 with the chosen arm's probability, else 0; ``n_trials``
    trials per episode (100)."""
    _check_trials(n_trials)
    if arms not in ARMS:
        raise ConfigError(f"arms must be one of {', '.join(ARMS)}; got {arms!r}")

    def latents(key, n):
        k_p, k_q, k_u = jax.random.split(key, 3)
        p_left = jax.random.uniform(k_p, (n,))
        p_right = 1.0 - p_left if arms == "correlated" else jax.random.uniform(k_q, (n,))
        p = jnp.broadcast_to(jnp.stack([p_left, p_right], -1)[:, None, :], (n, n_trials, 2))
        return {"p": p, "u": jax.random.uniform(k_u, (n, n_trials, 2))}

    return EpisodeTask(
        name="bandit", summary=f"two-armed bandit, {arms} arms, {n_trials} trials per episode (Wang et al. 2018)",
        reference="Wang et al. 2018 Nat. Neurosci. 21:860, Fig. 1 and Methods (two-armed bandits)",
        inputs=BANDIT_INPUTS, actions=BANDIT_ACTIONS, n_trials=n_trials, steps_per_trial=1,
        latents=latents, memory=lambda n: {}, transition=_bandit_transition(n_trials), better=_better_arm,
        option_gap=lambda lat: jnp.abs(lat["p"][:, 0, 0] - lat["p"][:, 0, 1]))


def reversal(n_trials: int = 100, p_high: float = 0.8, first: int = 30, last: int = 70) -> EpisodeTask:
    """Probabilistic reversal learning: one arm pays with ``p_high`` (0.8) and the other with
    1 - p_high, which arm at random per episode; at an unsignalled trial drawn uniformly from
    ``first``..``last`` (1-based, 30..70 of 100) the two swap, once. The criterion counts every
    trial from the 11th, so it also asks the network to follow the reversal."""
    _check_trials(n_trials)
    _check_probability("p_high", p_high, 0.5, 1.0)
    if not (isinstance(first, int) and isinstance(last, int) and 2 <= first <= last <= n_trials):
        raise ConfigError(f"the reversal trial range must satisfy 2 <= first <= last <= n_trials={n_trials}, "
                          f"got {first!r}..{last!r}")

    def latents(key, n):
        k_side, k_at, k_u = jax.random.split(key, 3)
        left_first = jax.random.bernoulli(k_side, 0.5, (n,))
        at = jax.random.randint(k_at, (n,), first - 1, last)  # 0-based first trial after the reversal
        swapped = jnp.arange(n_trials)[None, :] >= at[:, None]
        left_high = left_first[:, None] != swapped
        p_left = jnp.where(left_high, p_high, 1.0 - p_high)
        p = jnp.stack([p_left, 1.0 - p_left], -1)
        return {"p": p, "u": jax.random.uniform(k_u, (n, n_trials, 2)), "reversal_trial": at}

    return EpisodeTask(
        name="reversal", summary=f"probabilistic reversal, {p_high:g}/{1 - p_high:g}, one unsignalled reversal in "
                                 f"trials {first}-{last} of {n_trials}",
        reference="probabilistic reversal learning (e.g. Costa et al. 2016); inputs as Wang et al. 2018",
        inputs=BANDIT_INPUTS, actions=BANDIT_ACTIONS, n_trials=n_trials, steps_per_trial=1,
        latents=latents, memory=lambda n: {}, transition=_bandit_transition(n_trials), better=_better_arm,
        option_gap=lambda lat: jnp.full(lat["p"].shape[0], 2 * p_high - 1),
        criterion=EpisodeCriterion(min_p_better=0.75, from_trial=11, min_gap=0.0))


#: The two-step task's input channels: which state is shown (one-hot), the previous step's
#: action (one-hot) and the previous trial's reward.
TWO_STEP_INPUTS = ("state-1", "state-2a", "state-2b", "previous-A1", "previous-A2", "reward")
TWO_STEP_ACTIONS = ("A1", "A2")


def two_step(n_trials: int = 100, p_common: float = 0.8, p_reward: float = 0.9, p_switch: float = 0.025) -> EpisodeTask:
    """Daw et al. 2011's two-step task as Wang et al. 2018 trained it: each trial is two steps.
    Step 1 shows state 1; action A1 leads to state 2a with ``p_common`` (0.8, a *common*
    transition) and to 2b otherwise (*rare*), A2 the other way round. Step 2 shows the state
    reached; whatever the action, it pays 1 with that state's reward probability: one of 2a / 2b
    has ``p_reward`` (0.9) and the other 1 - p_reward, and they swap with ``p_switch`` (0.025) on
    each trial. The reward is shown with the next trial's state 1. The better first-stage choice
    is the one whose common transition leads to the better state."""
    _check_trials(n_trials)
    _check_probability("p_common", p_common, 0.5, 1.0)
    _check_probability("p_reward", p_reward, 0.5, 1.0)
    _check_probability("p_switch", p_switch)

    def latents(key, n):
        k_start, k_switch, k_move, k_u = jax.random.split(key, 4)
        start = jax.random.bernoulli(k_start, 0.5, (n,))
        switches = jax.random.bernoulli(k_switch, p_switch, (n, n_trials)).at[:, 0].set(False)
        a_high = start[:, None] != (jnp.cumsum(switches, axis=1) % 2 == 1)
        p_2a = jnp.where(a_high, p_reward, 1.0 - p_reward)
        return {"p_2a": p_2a, "move": jax.random.uniform(k_move, (n, n_trials)),
                "u": jax.random.uniform(k_u, (n, n_trials))}

    def transition(latents, k, action, memory):
        trial, stage = k // 2, k % 2
        pick = lambda a: jax.lax.dynamic_index_in_dim(a, trial, axis=1, keepdims=False)  # noqa: E731
        p_2a, move, u = pick(latents["p_2a"]), pick(latents["move"]), pick(latents["u"])
        n = action.shape[0]
        first = stage == 0
        common = move < p_common
        reached_a = (action == 0) == common  # the state 2a reached from this first-stage action
        state2 = jnp.where(first, jnp.where(reached_a, 1, 2), memory["state2"])
        paid = jnp.where(state2 == 1, u < p_2a, u < 1.0 - p_2a)
        reward = jnp.where(first, 0.0, paid.astype(jnp.float32))
        shown = jnp.where(first, state2, 0)  # after step 1 the second state; after step 2 the next state 1
        observation = jnp.concatenate([_one_hot(shown, 3), _one_hot(action, 2), reward[:, None]], axis=1)
        info = {"trial": jnp.full((n,), trial, jnp.int32), "stage": jnp.full((n,), stage, jnp.int32),
                "state2": state2, "common": jnp.where(first, common, memory["common"]),
                "p_2a": p_2a}
        return reward, {"state2": state2, "common": info["common"]}, observation, info

    def better(lat):
        # A1 leads commonly to 2a: it is better when 2a is (p_common > 0.5)
        return jnp.where(lat["p_2a"] > 0.5, 0, jnp.where(lat["p_2a"] < 0.5, 1, -1)).astype(jnp.int32)

    return EpisodeTask(
        name="two-step", summary=f"two-step task, transitions {p_common:g}/{1 - p_common:g}, rewards "
                                 f"{p_reward:g}/{1 - p_reward:g} swapping at {p_switch:g} per trial (Daw et al. 2011)",
        reference="Daw et al. 2011 Neuron 69:1204; as trained by Wang et al. 2018 Fig. 3 and Methods",
        inputs=TWO_STEP_INPUTS, actions=TWO_STEP_ACTIONS, n_trials=n_trials, steps_per_trial=2,
        latents=latents, memory=lambda n: {"state2": jnp.zeros(n, jnp.int32), "common": jnp.zeros(n, bool)},
        transition=transition, better=better, option_gap=lambda lat: jnp.full(lat["p_2a"].shape[0], 2 * p_reward - 1),
        criterion=EpisodeCriterion(min_p_better=0.7, from_trial=11, min_gap=0.0))


#: The episodic tasks by name, with their factories (keyword arguments are their options).
EPISODE_TASKS: dict[str, Callable[..., EpisodeTask]] = {"bandit": bandit, "reversal": reversal, "two-step": two_step}


def get_episode_task(name: str, **options: Any) -> EpisodeTask:
    """The episodic task ``name`` built with ``options``; one line naming what is allowed otherwise."""
    if name not in EPISODE_TASKS:
        raise ConfigError(f"unknown episodic task {name!r}; known: {', '.join(EPISODE_TASKS)}")
    try:
        return EPISODE_TASKS[name](**options)
    except TypeError:
        import inspect

        allowed = ", ".join(inspect.signature(EPISODE_TASKS[name]).parameters)
        raise ConfigError(f"task {name!r} takes the options {allowed}; got {sorted(options)}") from None
