"""NeuroGym environments as a source of trials (optional extra: ``pip install rewardrnn[neurogym]``).

The environment is one of NeuroGym's registered ids (``ngym:<id>``), optionally wrapped by
NeuroGym's wrappers named in :data:`WRAPPERS` (``--wrappers PassAction,ReactionTime``), or the
user's own, from a file (``my_env.py:NAME``): a ``TrialEnv`` subclass (or any gymnasium ``Env``
with discrete actions and a ``dt`` attribute in ms), or a function returning one (the way to
apply wrappers with arguments). Such a file is code and follows the task files' trust rule
(:mod:`rewardrnn.tasks.trust`); the run folder records its path, SHA-256 and a copy.

NeuroGym tasks are numpy environments stepped one call at a time, so a batch of trials is
simulated on the host over ``n`` environments side by side: at each time step one call of the
caller's ``act(observations, step) -> actions`` (a compiled network step) serves every
environment, then each environment takes its step.

Conventions. One trial is one episode: the network starts each trial from its initial state,
sees the trial's first observation, then acts; an environment's trial ends when NeuroGym says
``info["new_trial"]`` (or, for a plain gymnasium env, when the episode terminates or is
truncated). The trial's outcome is NeuroGym's own: ``info["performance"]`` at that
step (1 correct, 0 not, or the task's graded value; an environment that gives none scores 1 for
a trial whose rewards sum above 0), and the trial's variables (ground truth, coherence, ...:
``env.trial`` while it is played; NeuroGym's ``info["trial"]`` at its end is the *next* trial's,
read only from an environment without ``env.trial``) become the trial's row of the behaviour
table. So any
environment of ``neurogym.all_envs()`` trains: single- and multi-choice, go/no-go, timing,
working memory.

Reproducibility. NeuroGym draws its trials from its own ``numpy`` generator (``env.rng``),
which ``env.reset(seed=...)`` does not seed; every batch here seeds every environment from
(run seed, stream, update, index) (:func:`rewardrnn.keys.env_seed`) before resetting it, so
the same seed gives the same trials, and a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.keys import env_seed

#: Prefix of NeuroGym task names on the command line.
PREFIX = "ngym:"


#: NeuroGym wrappers that may be named (``--wrappers``): each takes only the environment (its other
#: arguments keep NeuroGym's defaults). Monitor (which writes files) and the wrappers that need
#: arguments are not among them: apply those in a factory function of your own file.
WRAPPERS = ("PassAction", "PassReward", "ReactionTime", "Noise", "RandomGroundTruth", "TrialHistoryV2")


def is_neurogym(task: Any) -> bool:
    return isinstance(task, str) and task.startswith(PREFIX)


def is_environment(task: Any) -> bool:
    """True for ``ngym:<id>`` and for a file's environment class or factory (``my_env.py:NAME``)."""
    from rewardrnn.tasks import files

    return is_neurogym(task) or (files.is_task_file(task) and files.names_environment(task))


def check_task(task: Any) -> None:
    """A one-line error unless ``task`` is written ``ngym:<id>`` or ``path/to/file.py:NAME``."""
    from rewardrnn.tasks import files

    if not files.is_task_file(task):
        env_id(task)


def check_wrappers(wrappers: Any) -> tuple[str, ...]:
    """The wrapper names as a tuple, or a one-line error naming an unknown one."""
    if isinstance(wrappers, str) or not all(isinstance(w, str) for w in wrappers):
        raise ConfigError(f"wrappers must be a list of names, got {wrappers!r}")
    unknown = [w for w in wrappers if w not in WRAPPERS]
    if unknown:
        raise ConfigError(f"unknown NeuroGym wrapper(s) {', '.join(map(repr, unknown))}; by name: {', '.join(WRAPPERS)} "
                          f"(others, and wrappers with arguments, in a factory function of your own file)")
    return tuple(wrappers)


def env_id(task: str) -> str:
    """The environment id of ``ngym:<id>``; gymnasium's ``module:Env`` form is refused here, before
    anything could import the module it names."""
    if not is_neurogym(task) or len(task) == len(PREFIX):
        raise ConfigError(f"a NeuroGym task is named {PREFIX}<environment id>, got {task!r}")
    name = task[len(PREFIX):]
    if ":" in name:
        raise ConfigError(f"NeuroGym environment {name!r}: gymnasium's module:Env form imports the module it names "
                          f"and is not accepted; use one of NeuroGym's ids (`ngym:<id>`, e.g. "
                          f"ngym:PerceptualDecisionMaking-v0)")
    return name


def native_env_ids() -> list[str]:
    """The ids of every environment NeuroGym registers natively (``neurogym.all_envs()``)."""
    _import_neurogym()
    from neurogym.envs.registration import all_envs

    return list(all_envs())


def _import_neurogym():
    try:
        import gymnasium
        import neurogym  # noqa: F401  (registers its environments)
    except ImportError as error:
        raise ConfigError(f"NeuroGym tasks need the neurogym extra ({error}); "
                          "`pip install 'rewardrnn[neurogym]'`") from None
    return gymnasium


def make_env(task: str, env_kwargs: dict, wrappers: tuple[str, ...] = ()):
    """One environment of ``ngym:<id>`` or of a file's class or factory (``my_env.py:NAME``), built
    with ``env_kwargs`` (e.g. ``{"dt": 20}``), then wrapped by NeuroGym's ``wrappers`` in order."""
    gymnasium = _import_neurogym()
    name = _label(task)
    env = _build(gymnasium, task, env_kwargs)
    import neurogym.wrappers

    for wrapper in check_wrappers(wrappers):
        env = getattr(neurogym.wrappers, wrapper)(env)
    if not hasattr(env.action_space, "n"):
        raise ConfigError(f"environment {name!r} has a continuous action space "
                          f"({env.action_space}); the actor-critic needs discrete actions")
    if len(getattr(env.observation_space, "shape", None) or ()) != 1:
        raise ConfigError(f"environment {name!r}: observations must be vectors, got the space {env.observation_space}")
    dt = getattr(env.unwrapped, "dt", None)
    if not (isinstance(dt, (int, float, np.number)) and np.isfinite(dt) and dt > 0):
        raise ConfigError(f"environment {name!r}: its dt (ms per step, the attribute env.dt of a TrialEnv) must be "
                          f"a positive number, got {dt!r}")
    _check_timing(gymnasium, task, env_kwargs)
    return env


def _label(task: str) -> str:
    return env_id(task) if is_neurogym(task) else task


def _build(gymnasium, task: str, env_kwargs: dict):
    """The bare environment: ``gymnasium.make`` of a NeuroGym id, or the file's class or factory
    called with ``env_kwargs``."""
    if is_neurogym(task):
        name = env_id(task)
        check_native(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # gymnasium's metadata warnings about NeuroGym envs
                # gymnasium's passive checker only warns (NeuroGym's float64 observations), once per environment
                return gymnasium.make(name, disable_env_checker=True, **env_kwargs)
        except gymnasium.error.Error as error:
            raise ConfigError(f"cannot make NeuroGym environment {name!r}: {error}") from None
        except TypeError as error:
            raise ConfigError(f"cannot make NeuroGym environment {name!r} with env_kwargs {env_kwargs}: {error}; "
                              f"give its arguments with --env-kwargs (JSON)") from None
    from rewardrnn.tasks import files

    maker = files.load_environment(task)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = maker(**env_kwargs)
    except TypeError as error:
        raise ConfigError(f"cannot make environment {task} with env_kwargs {env_kwargs}: {error}; give its arguments "
                          f"with --env-kwargs (JSON)") from None
    except Exception as error:  # the user's code: one line
        raise ConfigError(f"environment {task} failed to build: {type(error).__name__}: {error}") from None
    if not isinstance(env, gymnasium.Env):
        raise ConfigError(f"{task} returned a {type(env).__name__}, not a gymnasium environment")
    return env


def check_native(name: str) -> None:
    """Refuse an id that is not one of NeuroGym's own registered environments: never gymnasium's
    ``module:Env`` form, which imports the module it names (a run folder could name any)."""
    env_id(PREFIX + name)
    known = native_env_ids()
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"NeuroGym's ids: {', '.join(sorted(known)[:8])}, ..."
        raise ConfigError(f"unknown NeuroGym environment {name!r}; {hint}")


def _check_timing(gymnasium, task: str, env_kwargs: dict) -> None:
    """A ``timing`` key the environment does not have is a typo (NeuroGym adds it silently and
    trains the unchanged task): refused, naming the environment's epochs."""
    timing = env_kwargs.get("timing")
    if timing is None:
        return
    name = _label(task)
    if not isinstance(timing, dict):
        raise ConfigError(f"environment {name!r}: env_kwargs timing must be an object of epoch durations "
                          f"(ms), got {timing!r}")
    default = _build(gymnasium, task, {k: v for k, v in env_kwargs.items() if k != "timing"})
    epochs = set(getattr(default.unwrapped, "timing", {}) or {})
    unknown = sorted(set(timing) - epochs)
    if epochs and unknown:
        raise ConfigError(f"environment {name!r} has no epoch(s) {unknown} in timing; its epochs: "
                          f"{', '.join(sorted(epochs))}")


@dataclass(frozen=True)
class EnvSizes:
    """What a learner reads of an environment it does not simulate itself."""

    dt_ms: float
    n_inputs: int
    n_actions: int
    name: str


def sizes(env, task: str) -> EnvSizes:
    return EnvSizes(float(env.unwrapped.dt), int(env.observation_space.shape[0]), int(env.action_space.n), task)


@dataclass
class Batch:
    """Episodes simulated on the host, time-major: ``inputs`` (T+1, B, n_in) (row t seen before
    action t), ``actions``, ``reward``, ``mask`` (T, B), one column per episode; and per trial
    (episode-major, one entry per trial played): ``episode`` (its column), ``start_step`` and
    ``end_step`` (the steps of its first and last action), ``performance`` (NeuroGym's),
    ``reward_total``, ``responded`` (any action other than 0, NeuroGym's fixation), and ``info``
    (the trial's variables, one dict per trial). With one trial per episode (the default) the
    trials are the columns: ``episode`` is 0..B-1 and ``start_step`` 0."""

    inputs: np.ndarray
    actions: np.ndarray
    reward: np.ndarray
    mask: np.ndarray
    end_step: np.ndarray
    performance: np.ndarray
    reward_total: np.ndarray
    responded: np.ndarray
    info: list[dict]
    episode: np.ndarray | None = None
    start_step: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.end_step)
        if self.episode is None:
            self.episode = np.arange(n)
        if self.start_step is None:
            self.start_step = np.zeros(n, int)

    @property
    def trial_in_episode(self) -> np.ndarray:
        """Each trial's place in its episode, 1-based."""
        first = np.r_[True, self.episode[1:] != self.episode[:-1]]
        starts = np.flatnonzero(first)
        return np.arange(len(self.episode)) - np.repeat(starts, np.diff(np.r_[starts, len(self.episode)])) + 1

    def trial_end_discount(self, discount: float) -> np.ndarray:
        """(T, B) factors of the return's recursion G_t = R_t + f_t G_{t+1}: ``discount`` at the
        last step of every trial but an episode's last, 1 elsewhere (credit crosses trials,
        discounted once per trial)."""
        factor = np.ones(self.actions.shape, np.float32)
        last = np.r_[self.episode[1:] != self.episode[:-1], True]
        inner = ~last
        factor[self.end_step[inner], self.episode[inner]] = discount
        return factor


class NeuroGymBatches:
    """``n`` environments of one NeuroGym task, re-seeded for every batch; each plays an episode
    of ``trials`` consecutive trials (one: the default, the network starts every trial afresh)."""

    def __init__(self, task: str, env_kwargs: dict, n: int, max_steps: int, wrappers: tuple[str, ...] = (),
                 trials: int = 1):
        self.envs = [make_env(task, env_kwargs, wrappers) for _ in range(n)]
        self.max_steps = max_steps
        self.trials = trials

    @property
    def periods(self) -> tuple[str, ...]:
        """The environment's period names (NeuroGym's ``timing``), in trial order; none for an
        environment without NeuroGym's periods."""
        env = self.envs[0].unwrapped
        timing = getattr(env, "timing", None)
        return tuple(timing) if isinstance(timing, dict) and hasattr(env, "in_period") else ()

    def run(self, act: Callable[..., np.ndarray], seed: int, stream: int, update: int,
            periods: tuple[str, ...] = ()) -> Batch:
        """One episode in every environment; ``act(observations (B, n_in), step) -> actions (B,)``.
        With ``periods`` (NeuroGym period names), ``act(observations, step, in_period)`` also
        gets (B, len(periods)) bools: whether each environment's current time, that of the
        observation it shows, lies in each period (``TrialEnv.in_period``).

        One trial (the default) starts at the environment's reset, which in NeuroGym takes one
        random action itself: the trial is the one the reset left. A session (``trials`` > 1)
        starts at a trial's beginning: the trial the reset left half-played is first finished
        with the fixation action, unseen by the network and not counted
        (:meth:`_finish_reset_trial`); it ends with the ``trials``-th trial's end. An
        environment's trials follow one another as NeuroGym steps them, and ``act`` (the
        network) is never reset in between. An episode not over after ``max_steps`` steps is
        cut: its last trial ends there (NeuroGym's state at that step)."""
        n = len(self.envs)
        first = []
        for i, env in enumerate(self.envs):
            s = env_seed(seed, stream, update, i)
            if hasattr(env.unwrapped, "seed"):
                env.unwrapped.seed(s)  # NeuroGym's trial generator (reset(seed=) leaves it unseeded)
            ob, _ = env.reset(seed=s)
            if self.trials > 1:
                ob = self._finish_reset_trial(env, ob)
            first.append(np.asarray(ob, np.float32).reshape(-1))
        alive = np.ones(n, bool)
        done = np.zeros(n, int)  # trials ended so far
        trial_start = np.zeros(n, int)
        inputs, actions, rewards = [np.stack(first)], [], []
        responded, earned = np.zeros(n, bool), np.zeros(n, np.float32)
        rows: list[tuple] = []  # (episode, start, end, performance, reward, responded, info) per trial
        t = 0
        while alive.any() and t < self.max_steps:
            if periods:
                flags = np.zeros((n, len(periods)), bool)
                for i in np.flatnonzero(alive):
                    env = self.envs[i].unwrapped
                    flags[i] = [env.in_period(p) for p in periods]
                action = np.asarray(act(inputs[-1], t, flags))
            else:
                action = np.asarray(act(inputs[-1], t))
            next_inputs, reward_t = np.zeros_like(inputs[0]), np.zeros(n, np.float32)
            for i in np.flatnonzero(alive):
                playing = getattr(self.envs[i].unwrapped, "trial", None)  # this trial's variables (info's are the next's)
                ob, reward_t[i], terminated, truncated, info = self.envs[i].step(int(action[i]))
                responded[i] |= action[i] != 0
                earned[i] += reward_t[i]
                ended = info.get("new_trial", False) or terminated or truncated
                if ended:
                    performance = float(info["performance"]) if "performance" in info else float(earned[i] > 0)
                    variables = playing if isinstance(playing, dict) else info.get("trial", {})
                    rows.append((i, trial_start[i], t, performance, earned[i], responded[i], _scalars(variables)))
                    done[i] += 1
                    trial_start[i], earned[i], responded[i] = t + 1, 0.0, False
                    if done[i] == self.trials or terminated or truncated:
                        alive[i] = False
                        continue
                next_inputs[i] = np.asarray(ob, np.float32).reshape(-1)
            actions.append(action)
            rewards.append(reward_t)
            inputs.append(next_inputs)
            t += 1
        for i in np.flatnonzero(alive):  # cut at max_steps: NeuroGym never ended its trial
            rows.append((i, trial_start[i], t - 1, 0.0, earned[i], responded[i],
                         _scalars(getattr(self.envs[i].unwrapped, "trial", {}) or {})))
        rows.sort(key=lambda row: (row[0], row[1]))  # episode-major, trials in order
        episode, start, end = (np.array([row[k] for row in rows], int) for k in range(3))
        last = np.zeros(n, int)
        np.maximum.at(last, episode, end)
        mask = (np.arange(t)[:, None] <= last[None, :]).astype(np.float32)
        reward = np.stack(rewards) * mask
        trial_reward = np.array([row[4] for row in rows], np.float32)
        if self.trials == 1:  # today's numbers, bit for bit: the trial's reward is its column's masked sum
            trial_reward = reward.sum(0)
        return Batch(inputs=np.stack(inputs), actions=np.where(mask > 0, np.stack(actions), 0).astype(np.int32),
                     reward=reward, mask=mask, end_step=end, performance=np.array([row[3] for row in rows], np.float32),
                     reward_total=trial_reward, responded=np.array([row[5] for row in rows], bool),
                     info=[row[6] for row in rows], episode=episode, start_step=start)

    def _finish_reset_trial(self, env, ob):
        """The observation a session starts from: ``ob`` when the reset left the environment at
        a trial's start (a ``TrialEnv`` at ``t_ind`` 0, or an environment without NeuroGym's
        trial clock); otherwise the first observation of the next trial, after the fixation
        action (0) has played out the rest of the current one (at most ``max_steps`` steps)."""
        base = env.unwrapped
        for _ in range(self.max_steps):
            if getattr(base, "t_ind", 0) == 0:
                break
            ob, _, terminated, truncated, _ = env.step(0)
            if terminated or truncated:
                ob, _ = env.reset()
        return ob

    def ground_truth(self, seed: int, stream: int, update: int) -> Batch:
        """One trial of every environment as NeuroGym's supervised ``Dataset`` reads it: the
        trial's observations ``env.ob`` and ground-truth actions ``env.gt`` (fixation, then the
        correct choice) for all its steps, without stepping the environment (at most
        ``max_steps`` steps). ``actions`` are the ground truth; rewards and performance are 0
        (no action was taken)."""
        obs, gts = [], []
        for i, env in enumerate(self.envs):
            base = env.unwrapped
            s = env_seed(seed, stream, update, i)
            base.seed(s)
            env.reset(seed=s)
            base.new_trial()
            obs.append(np.asarray(base.ob, np.float32).reshape(len(base.ob), -1)[:self.max_steps])
            gts.append(np.asarray(base.gt).reshape(len(base.gt))[:self.max_steps])
        n, steps = len(self.envs), max(len(g) for g in gts)
        inputs = np.zeros((steps + 1, n, obs[0].shape[1]), np.float32)
        actions, mask = np.zeros((steps, n), np.int32), np.zeros((steps, n), np.float32)
        for i, (ob, gt) in enumerate(zip(obs, gts)):
            inputs[:len(ob), i], actions[:len(gt), i], mask[:len(gt), i] = ob, gt, 1.0
        zeros = np.zeros(n, np.float32)
        return Batch(inputs=inputs, actions=actions, reward=np.zeros_like(mask), mask=mask,
                     end_step=np.array([len(g) - 1 for g in gts]), performance=zeros, reward_total=zeros,
                     responded=np.zeros(n, bool), info=[_scalars(getattr(env.unwrapped, "trial", {}) or {})
                                                        for env in self.envs])


def check_ground_truth(task: str, env, wrappers: tuple[str, ...]) -> None:
    """Refuse (one line) supervised learning on an environment without NeuroGym's trial arrays
    (``new_trial``, ``ob``, ``gt``: a plain gymnasium environment) or with wrappers (they act on
    steps, which the trial arrays bypass)."""
    base = env.unwrapped
    if wrappers:
        raise ConfigError(f"{task}: the supervised learner reads NeuroGym's trial arrays (ob, gt), which wrappers "
                          f"({', '.join(wrappers)}) do not change; train it without wrappers")
    if not (callable(getattr(base, "new_trial", None)) and hasattr(base, "seed")):
        raise ConfigError(f"{task}: the supervised learner needs a NeuroGym TrialEnv (its trials' ground truth gt); "
                          f"this environment has none")
    base.seed(0)
    env.reset(seed=0)
    base.new_trial()
    if getattr(base, "gt", None) is None or np.asarray(base.gt).ndim != 1 or len(base.gt) != len(base.ob):
        raise ConfigError(f"{task}: the supervised learner needs one ground-truth action per step (env.gt); "
                          "this environment's trials have none")


def _scalars(trial: dict) -> dict:
    """The scalar entries of a NeuroGym trial dict (numbers and strings), as plain Python values."""
    out = {}
    for name, value in trial.items():
        value = np.asarray(value)
        if value.ndim == 0 and value.dtype.kind in "biufU":
            out[str(name)] = value.item()
    return out
