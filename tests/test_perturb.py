"""`rewardrnn perturb`: manipulations of a trained network against known answers (an empty
manipulation is the intact network; silencing every unit leaves the readout's bias policy;
Salzman et al.'s microstimulation shifts the psychometric curve toward the stimulated units'
choice; silencing the readout's strongest units costs accuracy), unit groups on planted
networks, and bad input refused in one line with nothing written."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import rewardrnn
from rewardrnn.cli import app
from rewardrnn.errors import ConfigError
from rewardrnn.manipulation import groups
from rewardrnn.manipulation.spec import Cut, Manipulation, parse_cut, parse_stimulation

runner = CliRunner()


# ---- unit groups and the option grammar, on planted networks -------------------------------------
def planted_view(**extra):
    # unit 2 favours CHOOSE-RIGHT most, unit 0 CHOOSE-LEFT; unit 3 has the largest weights overall
    readout = np.asarray([[0.0, 1.0, 0.0], [0.0, 0.2, 0.3], [0.0, 0.0, 2.0], [5.0, 4.0, 4.0], [0.0, 0.0, 0.0]])
    return groups.NetworkView(n_units=5, actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
                              inputs=("FIXATION", "LEFT", "RIGHT"), readout=readout, **extra)


def test_unit_groups_resolve_on_a_planted_network():
    view = planted_view(dale_signs=np.asarray([1, 1, 1, -1, -1]))
    assert groups.units("0-2,4", view).tolist() == [0, 1, 2, 4]
    assert groups.units("all", view).tolist() == [0, 1, 2, 3, 4]
    # preference = W[i, a] - mean of the other actions' weights: unit 2 (2.0), then unit 1 (0.2)
    assert groups.units("readout:CHOOSE-RIGHT:2", view).tolist() == [1, 2]
    assert groups.units("readout:CHOOSE-LEFT:1", view).tolist() == [0]
    assert groups.units("readout:1", view).tolist() == [3]
    assert groups.units("exc", view).tolist() == [0, 1, 2] and groups.units("inh", view).tolist() == [3, 4]
    picked = groups.units("random:3", view, seed=7)
    assert len(picked) == 3 and picked.tolist() == groups.units("random:3", view, seed=7).tolist()
    assert groups.union(["0", "4", "0-1"], view).tolist() == [0, 1, 4]
    # class:NAME: the members of a class the analyses assign (here planted)
    planted = {"chosen_value": np.asarray([0, 1, 0, 0, 1], bool)}
    classed = planted_view(classes=lambda name: planted.get(name, np.zeros(5, bool)))
    assert groups.units("class:chosen_value", classed).tolist() == [1, 4]
    with pytest.raises(ConfigError, match="no unit of this network is of class 'choice'"):
        groups.units("class:choice", classed)


@pytest.mark.parametrize("group, words", [
    ("5", "unit 5 is past the network's 5 units"),
    ("3-1", "is empty"),
    ("random:6", "K must be an integer in 1..5"),
    ("readout:JUMP:2", "'JUMP' is not an action of this task"),
    ("exc", "has no Dale's principle"),
    ("dprime:CHOOSE-LEFT:2", "has no choice selectivity"),
    ("class:chosen_value", "analyze assigns no classes to this network's units"),
    ("motion-units", "is not a group"),
])
def test_bad_unit_groups_are_named(group, words):
    with pytest.raises(ConfigError, match=words):
        groups.units(group, planted_view())


def test_cut_and_stimulation_grammar():
    assert parse_cut("recurrent") == Cut("recurrent", fraction=1.0)
    assert parse_cut("input:0.25") == Cut("input", fraction=0.25)
    assert parse_cut("input:LEFT") == Cut("input", channel="LEFT")
    assert parse_cut("readout:CHOOSE-LEFT") == Cut("readout", channel="CHOOSE-LEFT")
    assert parse_cut("exc:inh") == Cut("recurrent", source="exc", target="inh")
    assert parse_cut("readout:CHOOSE-LEFT:5->0-9") == Cut("recurrent", source="readout:CHOOSE-LEFT:5", target="0-9")
    assert parse_stimulation("readout:CHOOSE-RIGHT:10=-0.5") == ("readout:CHOOSE-RIGHT:10", -0.5)
    for bad in ("recurrent:2", "recurrent:exc", "random:3:exc", ""):
        with pytest.raises(ConfigError):
            parse_cut(bad)
    with pytest.raises(ConfigError, match="not a number"):
        parse_stimulation("3=strong")
    assert Manipulation().is_empty() and not Manipulation(noise=0.1).is_empty()
    name = Manipulation.from_options(silence=["readout:CHOOSE-LEFT:10"], during="stimulus").folder_name()
    assert name == "silence_readout-CHOOSE-LEFT-10__during_stimulus"
    value = Manipulation.from_options(silence=["all"], network="value")
    assert value.folder_name() == "value__silence_all" and value.words() == "value network: silence all"
    with pytest.raises(ConfigError, match="--network 'policy': choose decision or value"):
        Manipulation(network="policy")


# ---- a trained network ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "rdm"
    # seed 2 reaches the criterion in about 5,000 trials (test_learning_and_cli.py)
    result = runner.invoke(app, ["train", "rdm-fixed", "--seed", "2", "--out", str(out), "--max-updates", "1500", "-q"])
    assert result.exit_code == 0, result.output
    return out


def tables(out, name):
    both = pd.read_csv(out / "perturbations" / name / "trials.csv")
    both["choice"] = both["choice"].fillna("")
    return both[~both["manipulated"]].reset_index(drop=True), both[both["manipulated"]].reset_index(drop=True)


BEHAVIOUR = ["condition", "decision", "choice", "correct", "choice_time_ms"]


@pytest.mark.slow
def test_an_empty_manipulation_is_the_intact_network_exactly(trained):
    summary = rewardrnn.perturb(trained, trials_per_condition=20, name="empty")
    intact, perturbed = tables(trained, "empty")
    pd.testing.assert_frame_equal(intact[BEHAVIOUR], perturbed[BEHAVIOUR])
    assert summary["difference"]["p_correct"] == 0 and summary["difference"]["p_decision"] == 0
    # the manipulated step with nothing in it (zero current, only in the stimulus) changes nothing either
    rewardrnn.perturb(trained, stimulate="0-99=0", during="stimulus", trials_per_condition=20, name="zero")
    intact, perturbed = tables(trained, "zero")
    pd.testing.assert_frame_equal(intact[BEHAVIOUR], perturbed[BEHAVIOUR])
    evaluated = rewardrnn.evaluate(trained, trials_per_condition=20)
    assert intact["correct"].tolist() == evaluated["correct"].tolist()  # the intact run is `evaluate`'s


@pytest.mark.slow
def test_the_value_network_is_essential_for_predicting_not_for_executing(trained):
    """--network value: the behaviour is the intact run's trial for trial whatever is done to the
    value network (it never acts); an empty manipulation gives its predictions exactly; with
    every unit silenced, or the readout cut, V is the readout's bias at every step."""
    value_columns = ["value_loss", "value_at_choice"]
    summary = rewardrnn.perturb(trained, network="value", trials_per_condition=10, name="value-empty")
    both = pd.read_csv(trained / "perturbations" / "value-empty" / "trials.csv")
    intact, perturbed = (both[both["manipulated"] == m].drop(columns="manipulated").reset_index(drop=True)
                         for m in (False, True))
    pd.testing.assert_frame_equal(intact, perturbed)
    assert summary["network"] == "value" and summary["intact"]["value_reward_r"] > 0.3  # V predicts the reward
    b_out = float(np.asarray(rewardrnn.load_run(trained).best_params()["value"]["b_out"])[0])
    for name, kwargs in (("value-silenced", {"silence": "all"}), ("value-readout", {"cut": "readout"})):
        summary = rewardrnn.perturb(trained, network="value", trials_per_condition=10, name=name, **kwargs)
        both = pd.read_csv(trained / "perturbations" / name / "trials.csv")
        lesioned = both[both["manipulated"]].drop(columns="manipulated").reset_index(drop=True)
        np.testing.assert_allclose(lesioned["value_at_choice"], b_out, rtol=1e-6)
        pd.testing.assert_frame_equal(lesioned.drop(columns=value_columns), intact.drop(columns=value_columns))
        assert summary["difference"]["p_correct"] == 0 and summary["difference"]["value_loss"] > 0
    result = runner.invoke(app, ["perturb", str(trained), "--network", "value", "--silence", "class:choice"])
    assert result.exit_code == 2 and "on the economic task only" in result.output, result.output


@pytest.mark.slow
def test_silencing_every_unit_leaves_the_readouts_bias_policy(trained):
    """All rates 0: the logits are b_out at every step, whatever the inputs, so a trial ends at
    its first non-FIXATE draw: P(end at step k) = p^k (1 - p) with p = softmax(b_out)[FIXATE],
    truncated where the trial ends anyway. Cutting the whole readout is the same policy, drawn
    with the same action noise: the same trials end at the same steps."""
    rewardrnn.perturb(trained, silence="all", trials_per_condition=100, name="all")
    _, silenced = tables(trained, "all")
    b = np.asarray(rewardrnn.load_run(trained).best_params()["policy"]["b_out"], float)
    p = np.exp(b - b.max()) / np.exp(b - b.max()).sum()
    p_fix = p[0]
    steps = (silenced["choice_time_ms"] / 10).round().astype(int)
    n = len(steps)
    first = (steps == 0).mean()
    assert abs(first - (1 - p_fix)) < 4 * np.sqrt(p_fix * (1 - p_fix) / n)
    cap = int(steps.max()) + 1
    k = np.arange(cap)
    expected = (k * p_fix ** k * (1 - p_fix)).sum()  # the tail beyond cap is below 1e-6 here
    assert abs(steps.mean() - expected) < 4 * steps.std() / np.sqrt(n)
    # fixation is 750 ms: no trial survives to the decision epoch under this policy
    assert not silenced["decision"].any()
    rewardrnn.perturb(trained, cut="readout", trials_per_condition=100, name="readout-cut")
    _, cut = tables(trained, "readout-cut")
    assert cut["choice_time_ms"].tolist() == silenced["choice_time_ms"].tolist()


@pytest.mark.slow
def test_microstimulation_shifts_the_psychometric_curve_toward_the_stimulated_choice(trained):
    """Salzman et al. 1990: stimulating the units that favour RIGHT through the readout, during
    the stimulus, moves the curve P(RIGHT) leftwards (mu, the point of subjective equality,
    decreases: more RIGHT choices at every coherence); the LEFT units move it rightwards."""
    right = rewardrnn.perturb(trained, stimulate="readout:CHOOSE-RIGHT:10=1", during="stimulus",
                              trials_per_condition=100)
    left = rewardrnn.perturb(trained, stimulate="readout:CHOOSE-LEFT:10=1", during="stimulus",
                             trials_per_condition=100)
    intact = right["intact"]["psychometric"]
    moved_right, moved_left = right["perturbed"]["psychometric"], left["perturbed"]["psychometric"]
    assert moved_right["mu"] < intact["mu"] - 2 * (moved_right["mu_se"] + intact["mu_se"])
    assert moved_left["mu"] > intact["mu"] + 2 * (moved_left["mu_se"] + intact["mu_se"])
    assert right["difference"]["p_choice"]["CHOOSE-RIGHT"] > 0 > left["difference"]["p_choice"]["CHOOSE-RIGHT"]
    folder = trained / "perturbations" / "stimulate_readout-CHOOSE-RIGHT-10=1__during_stimulus"
    for name in ("psychometric.png", "performance.png", "summary.json", "trials.csv"):
        assert (folder / name).stat().st_size > 1000
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["manipulation"]["during"] == ["stimulus"]
    assert len(saved["manipulation"]["units"]["stimulated"][0]["units"]) == 10


@pytest.mark.slow
def test_silencing_the_strongest_readout_units_costs_accuracy(trained):
    summary = rewardrnn.perturb(trained, silence="readout:10", trials_per_condition=100)
    intact, perturbed = summary["intact"], summary["perturbed"]
    assert intact["p_correct"] > 0.7
    # a drop beyond four standard errors of the two proportions (1,000 trials each)
    se = np.hypot(*(np.sqrt(p * (1 - p) / (r["n_trials"] * r["p_decision"]))
                    for r, p in ((intact, intact["p_correct"]), (perturbed, perturbed["p_correct"]))))
    assert perturbed["p_correct"] < intact["p_correct"] - 4 * se
    assert len(summary["manipulation"]["units"]["silenced"]) == 10


@pytest.mark.slow
def test_cuts_and_noise_through_the_cli(trained):
    result = runner.invoke(app, ["perturb", str(trained), "-n", "10", "--cut", "recurrent:0.5", "--cut", "input:LEFT",
                                 "--noise", "0.05", "--during", "stimulus", "--name", "mixed"])
    assert result.exit_code == 0, result.output
    assert "P(correct | decision)" in result.output
    summary = json.loads((trained / "perturbations" / "mixed" / "summary.json").read_text())
    removed = {c["cut"]: c["connections_removed"] for c in summary["manipulation"]["connections"]}
    existing = summary["manipulation"]["recurrent_connections_existing"]
    assert removed["recurrent, fraction 0.5 of the existing connections at random"] == round(existing / 2)
    assert removed["input LEFT"] == 100
    assert summary["manipulation"]["extra_noise_std_per_step"] == pytest.approx(np.sqrt(2 * 100 / 10 * 0.05))
    # the same name with another manipulation is refused, the results kept
    result = runner.invoke(app, ["perturb", str(trained), "-n", "10", "--silence", "3", "--name", "mixed"])
    assert result.exit_code == 2 and "holds the results of another manipulation" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [
    (["--silence", "100"], "unit 100 is past the network's 100 units"),
    (["--silence", "readout:JUMP:3"], "'JUMP' is not an action"),
    (["--cut", "exc:inh"], "has no Dale's principle"),
    (["--during", "stim"], "not an epoch of this task; epochs: fixation, stimulus, decision"),
    (["--cut", "recurrent:1.5"], "the fraction must be in [0, 1]"),
    (["--cut", "input:SOUND"], "'SOUND' is not an input channel"),
    (["--stimulate", "3"], "write GROUP=AMPLITUDE"),
    (["--noise", "-1"], "--noise must be a variance >= 0"),
    (["--name", "../elsewhere", "--silence", "3"], "must be a plain folder name"),
    (["-n", "0"], "trials per condition"),
])
def test_bad_input_is_one_line_and_writes_nothing(trained, args, words):
    before = sorted(p.name for p in (trained / "perturbations").iterdir()) if (trained / "perturbations").exists() else []
    result = runner.invoke(app, ["perturb", str(trained)] + args)
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
    after = sorted(p.name for p in (trained / "perturbations").iterdir()) if (trained / "perturbations").exists() else []
    assert before == after


@pytest.mark.slow
def test_the_report_shows_the_runs_perturbations(trained):
    rewardrnn.perturb(trained, silence="readout:CHOOSE-LEFT:5", trials_per_condition=10, name="left-units")
    rewardrnn.perturb(trained, silence="readout:5", network="value", trials_per_condition=10, name="value-units")
    assert runner.invoke(app, ["analyze", str(trained), "--behaviour-trials", "10"]).exit_code == 0
    result = runner.invoke(app, ["report", str(trained)])
    assert result.exit_code == 0, result.output
    page = (trained / "report.html").read_text()
    section = page[page.index("<h2>Perturbations</h2>"):]
    assert "silence readout:CHOOSE-LEFT:5" in section and "left-units" in section
    # the value network's perturbations in a table of their own, in its measures
    value = section[section.index("<h3>value network</h3>"):]
    assert "value network: silence readout:5" in value and "value loss" in value
    assert section.count("<img") >= 2  # the psychometric and performance figures
    assert "(the stop criterion" in page and "Miconi" not in page  # the actor-critic's learning-curve caption, not Miconi's


@pytest.mark.slow
def test_the_reports_fixed_point_counts_follow_a_later_search(trained):
    """analyze searches with 1,024 candidates; a later `fixedpoints` replaces the figures and
    fixedpoints.json, and the report's numbers follow the file the figures were drawn from."""
    if not (trained / "analysis" / "seed2" / "numbers.json").is_file():
        assert runner.invoke(app, ["analyze", str(trained), "--behaviour-trials", "10"]).exit_code == 0
    assert runner.invoke(app, ["fixedpoints", str(trained), "--candidates", "128", "--max-steps", "50"]).exit_code == 0
    assert runner.invoke(app, ["report", str(trained)]).exit_code == 0
    page = (trained / "report.html").read_text()
    saved = json.loads((trained / "analysis" / "seed2" / "fixedpoints.json").read_text())
    assert saved["candidates"] == 128
    row = page[page.index("<td>fixed and slow points</td>"):][:200]
    assert "candidates 128;" in row and "1,024" not in row
