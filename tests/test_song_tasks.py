"""The tasks of Song, Yang & Wang 2017 beyond random dots (spec §5.3-5.7): protocol numbers,
reward tables, epoch-duration distributions, input means and noise per channel, and stop
criteria on hand-made numbers."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from rewardrnn.errors import ConfigError
from rewardrnn.tasks import TaskEnv, Trials, get_task
from rewardrnn.tasks.economic import OFFERS, OFFERS_WIDE

DT = 10.0


def make_trial(env: TaskEnv, durations_ms, events_ms=(), **variables) -> Trials:
    """One hand-made trial: the condition with ``variables`` and the given epoch durations (an
    epoch left out runs to tmax)."""
    grid = env.condition_grid
    match = np.ones(len(grid), bool)
    for name, value in variables.items():
        match &= np.isclose(grid[:, env.variable_names.index(name)], value)
    assert match.sum() == 1, variables
    durations = list(durations_ms) + [np.inf] * (len(env.epoch_names) - len(durations_ms))
    ends = np.minimum(np.cumsum(durations), env.protocol.tmax_ms)
    starts = np.concatenate([[0.0], ends[:-1]])
    return Trials(jnp.asarray([int(np.flatnonzero(match)[0])]), jnp.asarray([starts], jnp.float32),
                  jnp.asarray([ends], jnp.float32), jnp.asarray([list(events_ms)], jnp.float32).reshape(1, -1))


def judge(env, trials, t_ms, action):
    step = jnp.asarray(int(t_ms / DT)) if t_ms is not None else jnp.asarray(env.n_steps - 1)
    reward, ends, decision, correct = env.judge(trials, step, jnp.asarray([action]))
    return float(reward[0]), bool(ends[0]), bool(decision[0]), bool(correct[0])


ABORT = (-1.0, True, False, False)
HOLD = (0.0, False, False, False)


# ---- protocol numbers (spec §5.9) ------------------------------------------------------------
@pytest.mark.parametrize("name,n_in,n_out,n_cond,n_val,n_steps,noise_var,criterion", [
    ("wager", 4, 4, 24, 1200, 396, 0.01, (0.99, 0.79)),
    ("mante", 6, 3, 72, 3600, 351, 0.02, (0.99, 0.85)),
    ("multisensory", 5, 3, 24, 1200, 226, 0.021, (0.99, 0.82)),
    ("romo", 3, 3, 10, 200, 556, 0.001, (0.99, 0.97)),
    ("economic", 7, 3, 18, 900, 351, 0.001, (0.99, 0.95)),
])
def test_protocol_numbers(name, n_in, n_out, n_cond, n_val, n_steps, noise_var, criterion):
    task = get_task(name)
    env = TaskEnv(task, DT)
    assert (env.n_inputs, env.n_actions, env.n_conditions, task.n_validation) == (n_in, n_out, n_cond, n_val)
    assert env.n_steps == n_steps
    assert env.input_noise_std == pytest.approx(np.sqrt(2 * 100 * noise_var / DT))
    assert (task.criterion.min_p_decision, task.criterion.min_p_correct) == criterion


def test_task_training_defaults():
    assert get_task("multisensory").training.N == 150
    assert (get_task("romo").training.lr, get_task("romo").training.baseline_lr) == (0.002, 0.002)
    assert get_task("economic").training.baseline_input_scale == 10.0
    assert get_task("rdm-fixed").training.N == 100 and get_task("rdm-fixed").training.lr == 0.004


# ---- reward tables ----------------------------------------------------------------------------
WAGER_DURATIONS = (750, 300, 1300)  # fixation, stimulus, delay; decision from 2350 ms to tmax
WAGER_TIMES = {"fixation": 100, "stimulus": 900, "delay": 1500, "decision": 2500, "last": None}


@pytest.mark.parametrize("wager", [1.0, 0.0])
@pytest.mark.parametrize("epoch", list(WAGER_TIMES))
def test_wager_reward_table(wager, epoch):
    env = TaskEnv(get_task("wager"), DT)
    trials = make_trial(env, WAGER_DURATIONS, events_ms=(1650,), wager=wager, direction=1.0, coherence=12.8)
    got = {a: judge(env, trials, WAGER_TIMES[epoch], a) for a in range(4)}
    if epoch == "last":
        assert all(v == ABORT for v in got.values())
    elif epoch != "decision":
        assert got == {0: HOLD, 1: ABORT, 2: ABORT, 3: ABORT}
    else:
        sure = (pytest.approx(0.7), True, True, False) if wager else ABORT  # -1 and no answer when not offered
        assert got == {0: HOLD, 1: (0.0, True, True, False), 2: (1.0, True, True, True), 3: sure}


@pytest.mark.parametrize("context,expected_side", [(0.0, 2), (1.0, 1)])
def test_mante_reward_follows_the_cued_modality(context, expected_side):
    env = TaskEnv(get_task("mante"), DT)
    trials = make_trial(env, (750, 750, 600), context=context, motion_direction=1.0, colour_direction=-1.0,
                        motion_coherence=5.0, colour_coherence=50.0)
    for t in (100, 1000, 1800):  # fixation, stimulus, delay
        assert [judge(env, trials, t, a) for a in range(3)] == [HOLD, ABORT, ABORT]
    other = 3 - expected_side
    assert judge(env, trials, 2500, expected_side) == (1.0, True, True, True)
    assert judge(env, trials, 2500, other) == (0.0, True, True, False)
    assert judge(env, trials, 2500, 0) == HOLD
    assert judge(env, trials, None, 0) == ABORT


@pytest.mark.parametrize("frequency,correct", [(16.0, 2), (13.0, 2), (12.0, 1), (9.0, 1)])
@pytest.mark.parametrize("modality", [0.0, 1.0, 2.0])
def test_multisensory_reward_table(frequency, correct, modality):
    env = TaskEnv(get_task("multisensory"), DT)
    trials = make_trial(env, (750, 1000, 500), modality=modality, frequency=frequency)
    for t in (100, 1000):
        assert [judge(env, trials, t, a) for a in range(3)] == [HOLD, ABORT, ABORT]
    assert judge(env, trials, 1900, correct) == (1.0, True, True, True)
    assert judge(env, trials, 1900, 3 - correct) == (0.0, True, True, False)
    assert judge(env, trials, 2240, correct)[2]  # the decision epoch runs to the last step but one
    assert judge(env, trials, None, 0) == ABORT


@pytest.mark.parametrize("order,correct", [(1.0, 1), (-1.0, 2)])
def test_romo_reward_table(order, correct):
    env = TaskEnv(get_task("romo"), DT)
    trials = make_trial(env, (750, 500, 3000, 500), order=order, pair=2.0)
    for t in (100, 1000, 2500, 4500):  # fixation, f1, delay, f2
        assert [judge(env, trials, t, a) for a in range(3)] == [HOLD, ABORT, ABORT]
    assert judge(env, trials, 4800, correct) == (1.0, True, True, True)
    assert judge(env, trials, 4800, 3 - correct) == (0.0, True, True, False)
    assert judge(env, trials, None, 0) == ABORT


@pytest.mark.parametrize("a_left,offer,left,right", [
    (1.0, 1, (3 * 0.22, True), (0.1, False)),  # 3A (left) vs 1B (right)
    (0.0, 1, (0.1, False), (3 * 0.22, True)),  # B on the left
    (1.0, 7, (0.22, False), (0.6, True)),  # 1A vs 6B
    (1.0, 8, (0.0, False), (0.2, True)),  # 0A vs 2B: choosing nothing pays 0
    (0.0, 0, (0.0, False), (0.22, True)),  # 0B vs 1A
])
def test_economic_reward_table(a_left, offer, left, right):
    env = TaskEnv(get_task("economic"), DT)
    trials = make_trial(env, (750, 1500), A_left=a_left, offer=float(offer))
    for t in (100, 1000):
        assert [judge(env, trials, t, a) for a in range(3)] == [HOLD, ABORT, ABORT]
    for action, (reward, correct) in ((1, left), (2, right)):
        got = judge(env, trials, 2500, action)
        assert got[0] == pytest.approx(reward, rel=1e-6) and got[1:] == (True, True, correct)
    assert judge(env, trials, None, 0) == ABORT


def test_economic_juice_ratio_option():
    task = get_task("economic", juice_ratio=4.1)
    env = TaskEnv(task, DT)
    assert len(OFFERS_WIDE) == 9 and env.n_conditions == 18
    trials = make_trial(env, (750, 1500), A_left=1.0, offer=float(OFFERS_WIDE.index((10, 1))))
    assert judge(env, trials, 2500, 1)[0] == pytest.approx(0.41, rel=1e-6)  # 1A
    assert judge(env, trials, 2500, 2)[:1] == (pytest.approx(1.0, rel=1e-6),)  # 10B, the better one
    assert get_task("economic").summary != task.summary
    assert OFFERS[0] == (0, 1)
    with pytest.raises(ConfigError, match="juice_ratio must be a positive number"):
        get_task("economic", juice_ratio=0)
    with pytest.raises(ConfigError, match="has no option"):
        get_task("mante", juice_ratio=2.0)


# ---- epoch durations ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,epoch,low,high", [
    ("wager", "stimulus", 100, 900),
    ("wager", "delay", 1200, 1800),
    ("mante", "delay", 300, 1500),
    ("romo", "delay", 2700, 3300),
    ("economic", "offer", 1000, 2000),
])
def test_random_epoch_durations(name, epoch, low, high):
    task = get_task(name)
    env = TaskEnv(task, DT)
    trials = env.sample_trials(jax.random.PRNGKey(0), 10_000)
    j = env.epoch_names.index(epoch)
    d = np.asarray(trials.epoch_end_ms[:, j] - trials.epoch_start_ms[:, j])
    assert d.min() >= low and d.max() < high
    np.testing.assert_array_equal(d % DT, 0)  # floored to dt
    expected = task.epochs[j].duration.mean_ms - DT / 2  # flooring removes ~dt/2 on average
    assert d.mean() == pytest.approx(expected, abs=3 * d.std() / np.sqrt(d.size) + 1)
    assert abs(d.mean() - (low + high) / 2) > 1 or epoch in ("delay", "offer")  # not just uniform


def test_wager_sure_onset_follows_stimulus_offset():
    env = TaskEnv(get_task("wager"), DT)
    trials = env.sample_trials(jax.random.PRNGKey(0), 10_000)
    after = np.asarray(trials.event_ms[:, 0] - trials.epoch_end_ms[:, 1])
    assert after.min() >= 500 and after.max() < 750
    assert after.mean() == pytest.approx(env.protocol.events[0].delay.mean_ms - DT / 2, abs=3)
    assert (np.asarray(trials.event_ms[:, 0]) < np.asarray(trials.epoch_end_ms[:, 2])).all()  # within the delay
    fixed = {"wager": (("fixation", 750),), "mante": (("fixation", 750), ("stimulus", 750))}
    for name, epochs in fixed.items():
        env = TaskEnv(get_task(name), DT)
        t = env.sample_trials(jax.random.PRNGKey(1), 1000)
        for epoch, ms in epochs:
            j = env.epoch_names.index(epoch)
            assert (np.asarray(t.epoch_end_ms[:, j] - t.epoch_start_ms[:, j]) == ms).all()


# ---- inputs --------------------------------------------------------------------------------------
def inputs_at(env, trials, t_ms, n_keys=1):
    """Inputs shown at time t_ms (index k = t/dt), for every trial: U[k-1]."""
    u = np.asarray(env.inputs(jax.random.PRNGKey(7), trials))
    return u[int(t_ms / DT) - 1]


def repeat(trials: Trials, n: int) -> Trials:
    return jax.tree_util.tree_map(lambda a: jnp.repeat(a, n, axis=0), trials)


def check_channel(values, mean, std, n):
    assert values.mean() == pytest.approx(mean, abs=5 * max(std, 1e-3) / np.sqrt(n))
    assert values.std() == pytest.approx(std, rel=0.06, abs=1e-6)


def test_wager_inputs():
    env = TaskEnv(get_task("wager"), DT)
    n, std = 4000, np.sqrt(2 * 100 * 0.01 / DT)
    for wager in (1.0, 0.0):
        trials = repeat(make_trial(env, WAGER_DURATIONS, events_ms=(1650,), wager=wager, direction=-1.0,
                                   coherence=25.6), n)
        u = inputs_at(env, trials, 900)  # stimulus
        check_channel(u[:, 0], 1.0, 0.0, n)
        check_channel(u[:, 1], (1 + 0.256) / 2, std, n)
        check_channel(u[:, 2], (1 - 0.256) / 2, std, n)
        check_channel(u[:, 3], 0.0, 0.0, n)
        assert (inputs_at(env, trials, 1640)[:, 3] == 0).all()  # before the sure target
        assert (inputs_at(env, trials, 1650)[:, 3] == wager).all()  # from its onset on
        assert (inputs_at(env, trials, 2500)[:, 3] == wager).all()  # and during the decision
        assert (inputs_at(env, trials, 2340)[:, 0] == 1).all() and (inputs_at(env, trials, 2350)[:, 0] == 0).all()


def test_mante_inputs():
    env = TaskEnv(get_task("mante"), DT)
    n, std = 4000, np.sqrt(2 * 100 * 0.02 / DT)
    trials = repeat(make_trial(env, (750, 750, 600), context=1.0, motion_direction=1.0, colour_direction=-1.0,
                               motion_coherence=15.0, colour_coherence=50.0), n)
    u = inputs_at(env, trials, 1000)
    expected = [0.0, 1.0, (1 - 0.15) / 2, (1 + 0.15) / 2, (1 + 0.5) / 2, (1 - 0.5) / 2]
    for c, mean in enumerate(expected):
        check_channel(u[:, c], mean, std if c >= 2 else 0.0, n)
    delay = inputs_at(env, trials, 1800)
    assert (delay[:, 1] == 1).all() and (delay[:, [0, 2, 3, 4, 5]] == 0).all()  # cue on, evidence off
    assert (inputs_at(env, trials, 2100)[:, 1] == 0).all()  # cue off: the go signal


def test_multisensory_inputs_and_noise_only_on_shown_channels():
    env = TaskEnv(get_task("multisensory"), DT)
    n, std = 4000, np.sqrt(2 * 100 * 0.021 / DT)
    s = (14.0 - 2) / 21
    for modality, visual, auditory in ((0.0, 1, 0), (1.0, 0, 1), (2.0, 1, 1)):
        trials = repeat(make_trial(env, (750, 1000, 500), modality=modality, frequency=14.0), n)
        u = inputs_at(env, trials, 1200)
        check_channel(u[:, 0], 1.0, 0.0, n)
        check_channel(u[:, 1], visual * (1 + s) / 2, visual * std, n)
        check_channel(u[:, 2], visual * (1 - s) / 2, visual * std, n)
        check_channel(u[:, 3], auditory * (1 + s) / 2, auditory * std, n)
        check_channel(u[:, 4], auditory * (1 - s) / 2, auditory * std, n)
        assert (inputs_at(env, trials, 1800) == 0).all()  # decision: everything off


def test_romo_inputs():
    env = TaskEnv(get_task("romo"), DT)
    n, std = 4000, np.sqrt(2 * 100 * 0.001 / DT)
    trials = repeat(make_trial(env, (750, 500, 3000, 500), order=-1.0, pair=2.0), n)  # f1 = 18, f2 = 26 Hz
    for t, f in ((1000, 18.0), (4500, 26.0)):
        s = (f - 10) / 24
        u = inputs_at(env, trials, t)
        check_channel(u[:, 0], 1.0, 0.0, n)
        check_channel(u[:, 1], (1 + s) / 2, std, n)
        check_channel(u[:, 2], (1 - s) / 2, std, n)
    assert (inputs_at(env, trials, 2500)[:, 1:] == 0).all() and (inputs_at(env, trials, 2500)[:, 0] == 1).all()
    assert (inputs_at(env, trials, 4800) == 0).all()  # decision: fixation off
    v = env.variables(trials)
    assert float(v["f1"][0]) == 18.0 and float(v["f2"][0]) == 26.0


def test_economic_inputs():
    env = TaskEnv(get_task("economic"), DT)
    n, std = 4000, np.sqrt(2 * 100 * 0.001 / DT)
    trials = repeat(make_trial(env, (750, 1500), A_left=0.0, offer=1.0), n)  # 1B left, 3A right
    u = inputs_at(env, trials, 1000)
    for c, mean in enumerate([1.0, 0.0, 1.0, 1.0, 0.0]):  # FIXATION, L-A, L-B, R-A, R-B
        check_channel(u[:, c], mean, 0.0, n)
    check_channel(u[:, 5], 1 / 5, std, n)
    check_channel(u[:, 6], 3 / 5, std, n)
    assert (inputs_at(env, trials, 2500) == 0).all()


# ---- stop criteria --------------------------------------------------------------------------------
def test_wager_criterion_needs_the_sure_target_40_to_50_percent():
    met = get_task("wager").criterion.met
    good = {"p_decision": 0.99, "p_correct": 0.79, "p_sure": 0.45}
    assert bool(met(good))
    for change in ({"p_sure": 0.4}, {"p_sure": 0.51}, {"p_correct": 0.789}, {"p_decision": 0.98}):
        assert not bool(met({**good, **change}))
    assert bool(met({**good, "p_sure": 0.5}))


@pytest.mark.parametrize("name,p_correct", [("mante", 0.85), ("multisensory", 0.82), ("romo", 0.97),
                                            ("economic", 0.95)])
def test_two_choice_criteria(name, p_correct):
    met = get_task(name).criterion.met
    assert bool(met({"p_decision": 0.99, "p_correct": p_correct}))
    assert not bool(met({"p_decision": 0.99, "p_correct": p_correct - 0.005}))
    assert not bool(met({"p_decision": 0.985, "p_correct": 1.0}))


def test_wager_performance_measure():
    """P(answer), P(correct | left/right) and P(sure | wager answered), from hand-made outcomes."""
    env = TaskEnv(get_task("wager"), DT)
    # 6 trials: wager trials choose sure, right (correct), left (wrong); non-wager: right, sure (-> no answer), none
    rows = [(1.0, 3), (1.0, 2), (1.0, 1), (0.0, 2), (0.0, 3), (0.0, 0)]
    trials_list = [make_trial(env, WAGER_DURATIONS, events_ms=(1650,), wager=w, direction=1.0, coherence=6.4)
                   for w, _ in rows]
    trials = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *trials_list)
    actions = np.zeros((env.n_steps, len(rows)), np.int32)
    actions[250, :] = [a for _, a in rows]
    perf = env.performance(trials, env.outcomes(trials, jnp.asarray(actions)))
    assert float(perf["p_decision"]) == pytest.approx(4 / 6)  # sure on a non-wager trial is no answer
    assert float(perf["p_correct"]) == pytest.approx(2 / 3)  # right, wrong, right among left/right
    assert float(perf["p_sure"]) == pytest.approx(1 / 3)
    assert float(perf["reward"]) == pytest.approx((0.7 + 1 + 0 + 1 - 1 - 1) / 6)


def test_behaviour_table_has_each_tasks_columns():
    from rewardrnn.analysis.behaviour import table_performance
    from rewardrnn.records.behaviour import behaviour_table
    from rewardrnn.training import TrainConfig
    
    expected = {"wager": {"wager", "sure_onset_ms", "sure_chosen", "delay_ms", "stimulus_ms"},
                "mante": {"context", "context_name", "motion_coherence", "colour_direction", "delay_ms"},
                "multisensory": {"modality", "modality_name", "frequency", "visual", "auditory"},
                "romo": {"f1", "f2", "delay_ms", "order"},
                "economic": {"n_A", "n_B", "n_left", "n_right", "A_left", "chosen_juice", "offer_ms"}}
    for name, columns in expected.items():
        learner = TrainConfig(task=name).resolved().build_learner()
        state = learner.init(jax.random.PRNGKey(0))
        table = behaviour_table(learner, state.policy, state.policy_masks, jax.random.PRNGKey(1), 1)
        assert columns <= set(table.columns), (name, columns - set(table.columns))
        assert len(table) == learner.env.n_conditions
        perf = table_performance(learner.env.protocol, table)
        assert set(perf) >= {"p_decision", "p_correct"}
    assert isinstance(table, pd.DataFrame)


# ---- learning to criterion (the cheapest task beyond random dots: ~4,000 trials, ~1 min) ----------
@pytest.mark.slow
def test_romo_learns_to_criterion_and_remembers_f1_over_the_delay(tmp_path):
    import rewardrnn

    result = rewardrnn.train("romo", out=tmp_path / "romo", seed=1, max_updates=2000, progress=False)
    assert result.config.lr == 0.002 and result.config.n_gradient == 10  # the task's own defaults
    assert result.summary["seeds"][0]["reached_criterion"]
    table = rewardrnn.evaluate(tmp_path / "romo", trials_per_condition=40)
    decided = table[table["decision"]]
    assert table["decision"].mean() > 0.95
    by_pair = decided.groupby(["f1", "f2"])["correct"].mean()
    assert len(by_pair) == 10 and by_pair.min() > 0.75  # every (f1, f2) pair, both orders
    assert decided["correct"].mean() > 0.9
    assert table["delay_ms"].between(2700, 3300).all()
