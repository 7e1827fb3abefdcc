"""One learner interface, one trainer, one registry: every verb on every native run kind, flags
refused per learner, the import graph without cycles and with its layers. (NeuroGym runs: see
test_neurogym.py.)"""

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app

runner = CliRunner()
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rewardrnn"

#: A tiny training per run kind with a compiled learner: name -> (task, its kind, flags).
TINY_RUNS = {
    "rdm-fixed": ("rdm-fixed", "actor-critic",
                  ["--N", "16", "--max-updates", "2", "--checkfreq", "1", "--n-validation", "20"]),
    "dnms": ("dnms", "perturbation", ["--N", "20", "--trials", "20", "--checkfreq", "10", "--seeds", "2"]),
    "rdm-fixed-supervised": ("rdm-fixed", "supervised",
                             ["--learner", "supervised", "--N", "16", "--max-updates", "2", "--checkfreq", "1",
                              "--n-validation", "20"]),
    "rdm-fixed-perturbation": ("rdm-fixed", "perturbation/native",
                               ["--learner", "perturbation", "--N", "20", "--trials", "20", "--checkfreq", "10",
                                "--n-validation", "20", "--seeds", "2"]),
    "bandit": ("bandit", "actor-critic/episodes",
               ["--N", "16", "--max-updates", "2", "--checkfreq", "1", "--n-validation", "4", "--set", "n_trials=20"]),
}


@pytest.fixture(scope="module", params=sorted(TINY_RUNS))
def tiny_run(request, tmp_path_factory):
    task, kind, flags = TINY_RUNS[request.param]
    out = tmp_path_factory.mktemp("runs") / request.param
    result = runner.invoke(app, ["train", task, "-q", "--out", str(out)] + flags)
    assert result.exit_code == 0, result.output
    return kind, out


@pytest.mark.parametrize("verb,args,written", [
    ("evaluate", ["-n", "2"], "evaluation/trials_seed1.csv"),
    ("plot", [], "figures/{curve}.png"),
    ("record", ["-n", "2"], "records/seed1/activity.nc"),
    ("fixedpoints", ["--candidates", "64", "--max-steps", "50"], "analysis/seed1/fixedpoints.nc"),
    ("analyze", ["--behaviour-trials", "2"], "analysis/seed1/numbers.json"),
    ("report", [], "report.html"),
    ("export", [], "export/weights_seed1.npz"),
])
def test_every_verb_works_on_every_run_kind(tiny_run, verb, args, written):
    kind, out = tiny_run
    result = runner.invoke(app, [verb, str(out)] + args)
    assert result.exit_code == 0, result.output
    curve = "error_curve" if kind == "perturbation" else "learning_curve"
    assert (out / written.format(curve=curve)).stat().st_size > 0


def test_every_number_of_the_analysis_says_its_unit(tiny_run):
    """numbers.json -> units names the unit and convention of every number (a key, or all of
    its keys), and no key is a tuple written as a string."""
    _, out = tiny_run
    path = out / "analysis" / "seed1" / "numbers.json"
    if not path.is_file():
        assert runner.invoke(app, ["analyze", str(out), "--behaviour-trials", "2"]).exit_code == 0
    saved = json.loads(path.read_text())
    units = saved["units"]
    for key, value in saved["numbers"].items():
        described = key in units or (isinstance(value, dict) and all(f"{key}.{k}" in units for k in value))
        assert described, f"{key} has no unit in numbers.json"

    def keys(tree):
        if isinstance(tree, dict):
            for k, v in tree.items():
                yield k
                yield from keys(v)
        elif isinstance(tree, list):
            for v in tree:
                yield from keys(v)

    assert not [k for k in keys(saved["numbers"]) if ", " in k]


def test_the_summary_has_one_format_for_every_learner(tiny_run):
    kind, out = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    for seed in summary["seeds"]:
        assert {"seed", "status", "reached_criterion", "trials_to_criterion", "updates", "best_update",
                "best_score"} <= set(seed)
        assert seed["status"] in ("reached criterion", "budget spent")
    metrics = pd.read_csv(out / "metrics.csv")
    assert {"seed", "updates", "trials", "new_best", "criterion_met", "status", "wall_s"} <= set(metrics.columns)
    config = json.loads((out / "config.json").read_text())
    assert config["_run"]["kind"] == kind
    assert len(config["_run"]["run_id"]) == 32


@pytest.mark.parametrize("task,flag", [
    ("rdm-fixed", ["--nonlinearity", "cube"]), ("rdm-fixed", ["--trials", "10"]),
    ("rdm-fixed", ["--update-form", "paper"]), ("rdm-fixed", ["--method", "hebbian"]),
    ("rdm-fixed", ["--trial-order", "random"]),
    ("rdm-fixed", ["--reward-baseline", "value"]), ("rdm-fixed", ["--value-input", "stimuli"]),
    ("dnms", ["--dt", "5"]), ("dnms", ["--lr", "0.1"]),
    ("dnms", ["--baseline", "gru"]), ("dnms", ["--dale"]), ("dnms", ["--juice-ratio", "2"]),
    ("dnms", ["--t0-return", "pyrl"]), ("dnms", ["--max-updates", "3"]), ("dnms", ["--n-validation", "3"]),
])
def test_a_flag_of_the_other_learner_is_refused(tmp_path, task, flag):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", task, "--out", str(out)] + flag)
    assert result.exit_code == 2
    learner = "the actor-critic (Song et al. 2017)" if task == "rdm-fixed" else "the perturbation rule (Miconi 2017)"
    assert f"{flag[0]} does not apply to {learner}" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_the_python_api_refuses_the_same():
    import rewardrnn
    from rewardrnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\['nonlinearity'\] do not apply to the actor-critic"):
        rewardrnn.train("rdm-fixed", out="/nonexistent/never", nonlinearity="cube")
    with pytest.raises(ConfigError, match=r"\['lr'\] do not apply to the perturbation rule"):
        rewardrnn.train("dnms", out="/nonexistent/never", lr=0.1)
    with pytest.raises(ConfigError, match="--dt set\\(s\\) the acting network of a native task; dnms is Miconi's"):
        rewardrnn.train("dnms", out="/nonexistent/never", dt_ms=5.0)
    with pytest.raises(ConfigError, match="does not train with the actor-critic learner"):
        rewardrnn.train("dnms", out="/nonexistent/never", learner="actor-critic")


def test_miconi_seeds_stop_at_their_own_criterion_with_the_exact_trial_count():
    """The criterion is found inside a chunk (the trial at which > 95 of the last 100 errors were
    below threshold) and equals the count computed from the per-trial errors; a seed that met it
    stops at the end of that chunk."""
    import dataclasses

    from rewardrnn.learners.perturbation import PerturbationConfig, PerturbationLearner, trials_to_criterion
    from rewardrnn.networks import rate
    from rewardrnn.tasks.miconi import DNMS
    from rewardrnn.training.trainer import Trainer, TrainerPlan

    def run(threshold):
        learner = PerturbationLearner(dataclasses.replace(DNMS, error_threshold=threshold), PerturbationConfig(),
                                      rate.RateConfig(n_inputs=3, n_units=30))
        trainer = Trainer(learner, TrainerPlan(seeds=(3, 4), checkfreq=150, max_updates=450, n_validation=0))
        state, trace = trainer.run(trainer.initial_state(), [], np.zeros((2, 0), np.float32),
                                   save=lambda *a: None, show=lambda rows: None, wall=lambda: 1.0)
        return trainer.summary(state, 1.0, trace), trace

    summary, trace = run(1e9)  # every trial "good": met at trial 100, inside the first chunk
    assert [s["trials_to_criterion"] for s in summary["seeds"]] == [100, 100]
    assert [s["status"] for s in summary["seeds"]] == ["reached criterion"] * 2 and trace.shape == (2, 150)
    threshold = float(np.median(trace))  # about half the trials good: never met
    summary, trace = run(threshold)
    expected = trials_to_criterion(trace, threshold)
    assert [s["trials_to_criterion"] or -1 for s in summary["seeds"]] == expected.tolist()


def _imports(path: Path) -> set[str]:
    """The rewardrnn modules a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rewardrnn"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rewardrnn"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_cycle_among_the_package_modules():
    graph = _graph()
    graph = {k: {m for m in v if not k.startswith(m + ".") and m != "rewardrnn"} for k, v in graph.items()}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_layers_import_only_downwards():
    """Analyses read records, never the learners or the trainer; nothing below the faces imports
    them; tasks know nothing of networks or learners, networks nothing of tasks. A sweep runs
    verbs (train, perturb) over many run folders: the sweeps package is a face; so are the
    experiments, which train and analyse folders of cells (``rewardrnn experiment ...``)."""
    graph = _graph()
    faces = {"rewardrnn.api", "rewardrnn.cli", "rewardrnn.reports", "rewardrnn.verbs", "rewardrnn.export",
             "rewardrnn.perturbations"} | {m for m in graph if m.startswith(("rewardrnn.sweeps.", "rewardrnn.experiments"))}
    below = {"analysis": ("learners", "training", "records", "networks"), "tasks": ("networks", "learners", "training"),
             "networks": ("tasks", "learners", "training"), "learners": ("training", "records"),
             "records": ("training", "analysis"), "training": ("records", "analysis")}
    for module, imported in graph.items():
        layer = module.split(".")[1] if module.count(".") else ""
        for target in imported:
            if module not in faces and module != "rewardrnn":
                assert target not in faces, f"{module} imports the face {target}"
            for forbidden in below.get(layer, ()):
                assert not target.startswith(f"rewardrnn.{forbidden}"), f"{module} imports {target}"
