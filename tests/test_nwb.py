"""NWB out (``rewardrnn export RUN --format nwb``): read back with pynwb, the trials table and
the time series equal the records they come from, the weights equal the .npz export's, and
nwbinspector finds nothing critical."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app

pynwb = pytest.importorskip("pynwb")
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("nwb") / "run"
    result = runner.invoke(app, ["train", "rdm-fixed", "--N", "16", "--max-updates", "2", "--checkfreq", "1",
                                 "--n-validation", "20", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["record", str(out), "-n", "20"]).exit_code == 0
    result = runner.invoke(app, ["export", str(out), "--format", "nwb"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["export", str(out)]).exit_code == 0
    return out


def test_the_nwb_file_holds_the_records_and_the_weights(exported):
    import pandas as pd

    from rewardrnn.records.activity import open_activity

    records = pd.read_csv(exported / "records" / "seed1" / "trials.csv")
    ds = open_activity(exported / "records" / "seed1" / "activity.nc")
    valid = ds["valid"].values.astype(bool)
    with pynwb.NWBHDF5IO(str(exported / "export" / "seed1.nwb"), "r") as io:
        nwbfile = io.read()
        trials = nwbfile.trials.to_dataframe()
        assert len(trials) == len(records) == 200
        for column in ("coherence", "direction", "stimulus_onset_ms", "decision_onset_ms", "choice", "reward",
                       "correct", "response_time_ms"):
            assert column in trials, column
        assert np.allclose(trials["coherence"], records["coherence"])
        durations = (trials["stop_time"] - trials["start_time"]).to_numpy()
        assert np.allclose(durations, valid.sum(1) * 0.010)  # executed steps x dt, trials end to end
        assert np.allclose(trials["start_time"].to_numpy()[1:], trials["stop_time"].to_numpy()[:-1])
        module = nwbfile.processing["network"]
        rates = module["decision_rates"]
        assert rates.data.shape == (valid.sum(), 16) and rates.rate == pytest.approx(100.0)
        assert np.array_equal(rates.data[:], ds["rates"].values[valid])
        assert np.allclose(module["action_probabilities"].data[:].sum(1), 1.0, atol=1e-5)
        assert np.array_equal(module["value_output"].data[:], ds["value"].values[valid])
        assert "FIXATION, LEFT, RIGHT" in module["inputs"].description
        weights = module["weights"].to_dataframe()
        npz = np.load(exported / "export" / "weights_seed1.npz")
        for _, row in weights.iterrows():
            shape = tuple(int(n) for n in row["shape"].split("x")) if row["shape"] != "scalar" else ()
            assert np.array_equal(np.asarray(row["values"], np.float32).reshape(shape), npz[row["array"]])
        description = json.loads(nwbfile.experiment_description)
        assert description["learner"] == "actor-critic" and description["equations"]
    ds.close()


def test_nwbinspector_finds_nothing_critical(exported):
    from nwbinspector import Importance, inspect_nwbfile

    messages = list(inspect_nwbfile(nwbfile_path=str(exported / "export" / "seed1.nwb")))
    critical = [m for m in messages if m.importance == Importance.CRITICAL]
    assert not critical, [m.message for m in critical]


def test_a_bad_format_is_refused(exported):
    result = runner.invoke(app, ["export", str(exported), "--format", "nwb2"])
    assert result.exit_code == 2 and "npz, safetensors, nwb" in result.output
    result = runner.invoke(app, ["export", str(exported), "--format", "nwb", "-o", str(exported / "x.npz")])
    assert result.exit_code == 2 and "must end in .nwb" in result.output


def _dandi_findings(path):
    """nwbinspector's findings under DANDI's configuration, by importance name."""
    from nwbinspector import inspect_nwbfile, load_config

    findings: dict[str, list[str]] = {}
    for message in inspect_nwbfile(nwbfile_path=str(path), config=load_config("dandi")):
        findings.setdefault(message.importance.name, []).append(f"{message.check_function_name}: {message.message}")
    return findings


def test_with_its_metadata_given_the_file_passes_dandi_inspection(exported, tmp_path):
    """Without a species DANDI's configuration finds a CRITICAL issue (the subject's species);
    with the species, experimenter and institution given (options, or the [nwb] table of a run
    file, the options on top) it finds no CRITICAL and no BEST_PRACTICE_VIOLATION, and the file
    holds what was given."""
    assert any("species" in f for f in _dandi_findings(exported / "export" / "seed1.nwb").get("CRITICAL", []))
    given = tmp_path / "given.nwb"
    result = runner.invoke(app, ["export", str(exported), "--format", "nwb", "-o", str(given), "--species",
                                 "Macaca mulatta", "--experimenter", "Song, H. Francis", "--experimenter",
                                 "Wang, Xiao-Jing", "--institution", "New York University", "--lab", "Wang"])
    assert result.exit_code == 0, result.output
    findings = _dandi_findings(given)
    assert not findings.get("CRITICAL") and not findings.get("BEST_PRACTICE_VIOLATION"), findings
    run_file = tmp_path / "run.toml"
    run_file.write_text('task = "rdm-fixed"\n[nwb]\nspecies = "Macaca mulatta"\nexperimenter = ["Miconi, Thomas"]\n'
                        'institution = "The Neurosciences Institute"\n')
    from_file = tmp_path / "from_file.nwb"
    result = runner.invoke(app, ["export", str(exported), "--format", "nwb", "-o", str(from_file), "--metadata",
                                 str(run_file), "--lab", "Miconi"])
    assert result.exit_code == 0, result.output
    with pynwb.NWBHDF5IO(str(from_file), "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.species == "Macaca mulatta" and list(nwbfile.experimenter) == ["Miconi, Thomas"]
        assert nwbfile.institution == "The Neurosciences Institute" and nwbfile.lab == "Miconi"
    # the run file with its [nwb] table still trains (the table is not a training option)
    result = runner.invoke(app, ["train", "--config", str(run_file), "--N", "16", "--max-updates", "1",
                                 "--checkfreq", "1", "--n-validation", "4", "-q", "--out", str(tmp_path / "trained")])
    assert result.exit_code == 0, result.output


def test_bad_metadata_is_refused_in_one_line(exported, tmp_path):
    for args, expected in ((["--species", "monkey"], "must be a Latin binomial"),
                           (["--metadata", str(tmp_path / "none.toml")], "no such file")):
        out = tmp_path / "x.nwb"
        result = runner.invoke(app, ["export", str(exported), "--format", "nwb", "-o", str(out), *args])
        assert result.exit_code == 2 and expected in result.output and not out.exists(), result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[nwb]\nspecis = "Mus musculus"\n')
    result = runner.invoke(app, ["export", str(exported), "--format", "nwb", "--metadata", str(bad)])
    assert result.exit_code == 2 and "unknown [nwb] key(s) ['specis']" in result.output
    result = runner.invoke(app, ["export", str(exported), "--species", "Mus musculus"])
    assert result.exit_code == 2 and "go in an NWB file" in result.output
