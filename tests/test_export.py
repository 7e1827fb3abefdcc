"""Weights out (issue 6 part 3): exported files load with numpy alone and reproduce the network."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from rewardrnn.cli import app
from waiting import LIMIT_S
from rewardrnn.networks import gru

runner = CliRunner()


@pytest.fixture(scope="module")
def dale_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dale"
    result = runner.invoke(app, ["train", "rdm-fixed", "--dale", "--N", "20", "--max-updates", "2", "--checkfreq", "2",
                                 "--n-validation", "20", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def numpy_step(w, x, u, q, alpha):
    """The gated unit written from the exported description alone (numpy, no rewardrnn)."""
    n = x.shape[-1]
    r = np.maximum(x, 0)
    v = u @ w["policy/W_in"] + w["policy/b_in"]
    gates = w["policy/effective/W_rec_gates"]
    lam = 1 / (1 + np.exp(-(r @ gates[:, :n] + v[n:2 * n])))
    gam = 1 / (1 + np.exp(-(r @ gates[:, n:] + v[2 * n:])))
    return (1 - alpha * lam) * x + alpha * lam * ((gam * r) @ w["policy/effective/W_rec"] + v[:n] + q)


def test_npz_export_reproduces_one_step_in_numpy(dale_run):
    result = runner.invoke(app, ["export", str(dale_run)])
    assert result.exit_code == 0, result.output
    path = dale_run / "export" / "weights_seed1.npz"
    with np.load(path) as f:  # numpy only, no pickle
        w = {k: f[k] for k in f.files}
    description = json.loads(str(w.pop("__description__")))
    assert description["format"] == "rewardrnn-weights/1" and description["inputs"] == ["FIXATION", "LEFT", "RIGHT"]
    assert description["alpha"] == pytest.approx(0.1) and description["config"]["dale"] is True
    rng = np.random.default_rng(0)
    x, u, q = rng.normal(size=20), rng.normal(size=3), 0.1 * rng.normal(size=20)
    expected = numpy_step(w, x, u, q, description["alpha"])
    params = {k.split("/", 1)[1]: jnp.asarray(v) for k, v in w.items() if k.startswith("policy/") and k.count("/") == 1}
    masks = {k.split("/", 2)[2]: jnp.asarray(v) for k, v in w.items() if k.startswith("policy/mask/")}
    got = gru.step(params, masks, jnp.asarray(x, jnp.float32), jnp.asarray(u, jnp.float32),
                   jnp.asarray(q, jnp.float32), 0.1)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-6)
    signs = w["policy/mask/dale_sign"]
    assert ((w["policy/effective/W_rec"] * signs[:, None]) >= 0).all()


def test_safetensors_export_and_bad_format(dale_run, tmp_path):
    from safetensors import safe_open

    path = tmp_path / "w.safetensors"
    result = runner.invoke(app, ["export", str(dale_run), "--format", "safetensors", "--out", str(path)])
    assert result.exit_code == 0, result.output
    with safe_open(str(path), framework="numpy") as f:
        description = json.loads(f.metadata()["description"])
        assert set(description["arrays"]) == set(f.keys())
        assert f.get_tensor("policy/W_out").shape == (20, 3)
    bad = runner.invoke(app, ["export", str(dale_run), "--format", "pt"])
    assert bad.exit_code == 2 and "npz, safetensors" in bad.output
    _loads_in_pytorch(path)
    bad = runner.invoke(app, ["export", str(dale_run), "--seed", "9"])
    assert bad.exit_code == 2 and "seed 9 was not trained" in bad.output


def test_perturbation_run_export(tmp_path):
    out = tmp_path / "dnms"
    assert runner.invoke(app, ["train", "dnms", "--N", "20", "--trials", "20", "-q", "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["export", str(out)])
    assert result.exit_code == 0, result.output
    with np.load(out / "export" / "weights_seed1.npz") as f:
        description = json.loads(str(f["__description__"]))
        assert f["J"].shape == (20, 20) and f["W_in"].shape == (20, 3)
    assert description["learner"] == "perturbation" and description["tau_ms"] == 30.0


def _loads_in_pytorch(path):
    """PyTorch (test environment only; in a subprocess, as importing torch slows JAX) reads the
    file with safetensors.torch and runs the readout of the exported weights."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("torch") is None:
        return
    script = f"""
import json, torch
from safetensors import safe_open
from safetensors.torch import load_file
w = load_file({str(path)!r})
about = json.loads(safe_open({str(path)!r}, "pt").metadata()["description"])
logits = torch.relu(torch.full((1, w["policy/W_out"].shape[0]), 0.5)) @ w["policy/W_out"] + w["policy/b_out"]
assert logits.shape == (1, 3) and torch.isfinite(logits).all() and set(w) == set(about["arrays"])
print("ok", len(w))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=LIMIT_S)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-2000:]
