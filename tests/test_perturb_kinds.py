"""`rewardrnn perturb` on every run kind beside the gated network on native tasks
(test_perturb.py): Miconi's rate network on his DNMS (and its E/I version) and acting in Song's
rdm-fixed, and the gated network on a NeuroGym environment. Known answers on tiny trained
networks: an empty manipulation, and a zero current limited to one epoch, give the intact trials
exactly; silencing what a choice is read from removes the choices (the rate network's choice
units: no decision; Miconi's output neuron: an error of exactly |target|, also when silenced only
in the response epoch); on NeuroGym, silencing every unit and cutting the whole readout are the
same bias policy with the same draws; the cuts of a Dale network remove exactly its E -> I
connections. Refusals name what this kind of network has instead."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import chromium
import rewardrnn
from refusals import assert_refused
from rewardrnn.cli import app

runner = CliRunner()

#: A tiny training per run kind: name -> (task, flags).
RUNS = {
    "dnms": ("dnms", ["--N", "20", "--trials", "20", "--checkfreq", "10"]),
    "dnms-ei": ("dnms-ei", ["--trials", "10", "--checkfreq", "10"]),
    "rdm-rate": ("rdm-fixed", ["--learner", "perturbation", "--N", "20", "--trials", "20", "--checkfreq", "10",
                               "--n-validation", "20"]),
    "ngym": ("ngym:PerceptualDecisionMaking-v0", ["--N", "16", "--max-updates", "2", "--checkfreq", "1"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    made = {}

    def make(name):
        if name not in made:
            task, flags = RUNS[name]
            out = root / name
            result = runner.invoke(app, ["train", task, "-q", "--out", str(out)] + flags)
            assert result.exit_code == 0, result.output
            made[name] = out
        return made[name]

    return make


def halves(out, name):
    both = pd.read_csv(out / "perturbations" / name / "trials.csv")
    intact = both[~both["manipulated"]].drop(columns="manipulated").reset_index(drop=True)
    perturbed = both[both["manipulated"]].drop(columns="manipulated").reset_index(drop=True)
    return intact, perturbed


FIRST_EPOCH = {"dnms": "first-stimulus", "dnms-ei": "first-stimulus", "rdm-rate": "fixation", "ngym": "fixation"}


@pytest.mark.parametrize("name", ["dnms", "rdm-rate", "ngym"])
def test_an_empty_manipulation_is_the_intact_network_on_every_kind(runs, name):
    run = runs(name)
    summary = rewardrnn.perturb(run, trials_per_condition=4, name="empty")
    intact, perturbed = halves(run, "empty")
    pd.testing.assert_frame_equal(intact, perturbed)
    assert all(v == 0 for k, v in summary["difference"].items() if k != "p_choice" and v == v)
    # the manipulated step with nothing in it, limited to one epoch, changes nothing either
    rewardrnn.perturb(run, stimulate="0-3=0", during=FIRST_EPOCH[name], trials_per_condition=4, name="zero")
    intact, perturbed = halves(run, "zero")
    pd.testing.assert_frame_equal(intact, perturbed)
    assert set(summary["measures"]) <= set(summary["intact"])


def test_silencing_miconis_output_neuron_leaves_an_error_of_the_target(runs):
    """The error is the mean |output - target| over the response window; with the output
    neuron's rate held at 0 there, it is |target| exactly, whether it is silenced all trial or
    only during the response epoch; silenced before the response, it is not."""
    run = runs("dnms")
    out_unit = rewardrnn.load_run(run).learner.network.output_unit
    for label, during in (("all-trial", None), ("response", "response")):
        rewardrnn.perturb(run, silence=str(out_unit), during=during, trials_per_condition=5, name=label)
        intact, perturbed = halves(run, label)
        np.testing.assert_allclose(perturbed["error"], perturbed["target"].abs(), rtol=1e-6)
        assert (perturbed["final_output"] == 0).all() and (perturbed["response_output"] == 0).all()
        assert not np.allclose(intact["error"], perturbed["error"])
    rewardrnn.perturb(run, silence=str(out_unit), during="first-stimulus", trials_per_condition=5, name="early")
    _, early = halves(run, "early")
    assert not np.allclose(early["error"], early["target"].abs())
    summary = json.loads((run / "perturbations" / "all-trial" / "summary.json").read_text())
    assert summary["network"] == "rate (Miconi's rule)"
    assert summary["perturbed"]["mean_error"] == pytest.approx(float(np.abs(perturbed["target"]).mean()), rel=1e-5)


def test_silencing_the_rate_networks_choice_units_removes_every_choice(runs):
    """In Song's tasks the rate network chooses when a choice unit's rate crosses the threshold;
    readout:ACTION:1 is ACTION's choice unit, and with both held at 0 no trial decides."""
    run = runs("rdm-rate")
    learner = rewardrnn.load_run(run).learner
    summary = rewardrnn.perturb(run, silence=["readout:CHOOSE-LEFT:1", "readout:CHOOSE-RIGHT:1"],
                                trials_per_condition=5, name="choice-units")
    actions = learner.env.protocol.actions
    expected = sorted(unit for unit, action in enumerate(learner.choices)
                      if actions[action] in ("CHOOSE-LEFT", "CHOOSE-RIGHT"))
    assert summary["manipulation"]["units"]["silenced"] == expected
    assert summary["perturbed"]["p_decision"] == 0.0


def test_silencing_every_unit_of_a_neurogym_network_is_its_readouts_bias_policy(runs):
    run = runs("ngym")
    rewardrnn.perturb(run, silence="all", trials_per_condition=5, name="all")
    rewardrnn.perturb(run, cut="readout", trials_per_condition=5, name="readout")
    _, silenced = halves(run, "all")
    _, cut = halves(run, "readout")
    pd.testing.assert_frame_equal(silenced, cut)
    summary = json.loads((run / "perturbations" / "all" / "summary.json").read_text())
    assert sum(summary["intact"]["p_choice"].values()) == pytest.approx(1.0)
    assert summary["measures"]["p_decision"] == "P(respond)"
    # a current in the stimulus period moves the behaviour
    rewardrnn.perturb(run, stimulate="all=20", during="stimulus", trials_per_condition=5, name="push")
    intact, pushed = halves(run, "push")
    assert not intact["choice"].equals(pushed["choice"]) or not intact["end_time_ms"].equals(pushed["end_time_ms"])
    # the report shows them in NeuroGym's measures, every figure readable at a 1,200-px window
    result = runner.invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    section = (run / "report.html").read_text().split("<h2>Perturbations</h2>")[1]
    assert "P(respond)" in section and "NeuroGym performance" in section and "push" in section
    chromium.check_readable(run / "report.html")


def test_cutting_exc_to_inh_removes_the_e_to_i_connections_of_a_dale_network(runs):
    run = runs("dnms-ei")
    loaded = rewardrnn.load_run(run)
    j = np.asarray(loaded.best_params()["J"])
    n = j.shape[0]
    exc = np.arange(n) < n // 2
    summary = rewardrnn.perturb(run, cut="exc:inh", trials_per_condition=2, name="e-to-i")
    removed = summary["manipulation"]["connections"][0]["connections_removed"]
    assert removed == int((j[np.ix_(~exc, exc)] != 0).sum()) > 0  # J is [post, pre]
    assert summary["manipulation"]["recurrent_connections_existing"] == int((j != 0).sum())


@pytest.mark.parametrize("name, args, words", [
    ("dnms", ["--cut", "readout"], "Miconi's rate network has no readout weights"),
    ("dnms", ["--during", "stimulus"], "epochs: first-stimulus, delay, second-stimulus, wait, response"),
    ("dnms", ["--silence", "inh"], "has no Dale's principle"),
    ("rdm-rate", ["--cut", "readout:CHOOSE-LEFT"], "its choice units are units"),
    ("ngym", ["--during", "go"], "epochs: fixation, stimulus, delay, decision"),
    ("ngym", ["--silence", "readout:CHOOSE-LEFT:2"], "is not an action of this task (0, 1, 2)"),
    ("dnms", ["--network", "value", "--silence", "1"], "Miconi's rule has no value network"),
    ("ngym", ["--network", "value", "--silence", "1"], "the value network of NeuroGym runs cannot be manipulated"),
])
def test_each_kind_refuses_what_its_network_lacks_in_one_line(runs, name, args, words):
    run = runs(name)
    before = sorted(p.name for p in run.rglob("*"))
    result = runner.invoke(app, ["perturb", str(run)] + args)
    assert_refused(result.exit_code, result.output, words)
    assert sorted(p.name for p in run.rglob("*")) == before
