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
