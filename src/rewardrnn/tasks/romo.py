"""Parametric working memory (Romo et al. 1999; Barak, Tsodyks & Romo 2010), as trained by Song,
Yang & Wang 2017 (Fig. 2C; spec §5.6, pyrl ``examples/models/romo.py``).

Protocol: fixate 750 ms; a first vibrotactile frequency f1 for 500 ms; a delay of U[2700, 3300)
ms; a second frequency f2 for 500 ms; the fixation cue goes off and the choice (f1 > f2 or
f1 < f2) may come until tmax = 5550 ms. Frequencies are coded by a positively and a negatively
tuned channel, (1 +/- s)/2 with s = (f - 10)/24, with weak noise (sigma^2_in = 0.001). Learning
rates are halved (0.002, "to slow down the learning"). Stop at P(decision) >= 0.99 and
P(correct | decision) >= 0.97.

``order`` is +1 when f1 > f2 and -1 otherwise; ``pair`` indexes the (higher, lower) frequency
pairs of :data:`PAIRS`; ``f1`` and ``f2`` (Hz) are derived.
"""

from __future__ import annotations

from rewardrnn.deferred import jnp
from rewardrnn.tasks.protocol import Criterion, Epoch, Protocol, TrainingDefaults
from rewardrnn.tasks.samplers import Fixed, Uniform

FIXATE, CHOOSE_GREATER, CHOOSE_LESS = 0, 1, 2
#: (higher, lower) frequency pairs in Hz; |f1 - f2| = 8 Hz (spec §5.6).
PAIRS = ((18.0, 10.0), (22.0, 14.0), (26.0, 18.0), (30.0, 22.0), (34.0, 26.0))
F_MIN, F_MAX = 10.0, 34.0


def _frequencies(v):
    pairs = jnp.asarray(PAIRS)[v["pair"].astype(jnp.int32)]
    greater = v["order"] > 0
    return {"f1": jnp.where(greater, pairs[..., 0], pairs[..., 1]),
            "f2": jnp.where(greater, pairs[..., 1], pairs[..., 0])}


def _inputs(v, on):
    f = jnp.where(on["f1"], v["f1"], v["f2"])
    s = (f - F_MIN) / (F_MAX - F_MIN)
    shown = on["f1"] | on["f2"]
    return {
        "FIXATION": ~on["decision"],
        "F-POS": shown * (1 + s) / 2,
        "F-NEG": shown * (1 - s) / 2,
    }


def _correct_action(v):
    return jnp.where(v["order"] > 0, CHOOSE_GREATER, CHOOSE_LESS)


ROMO = Protocol(
    name="romo",
    summary="parametric working memory: compare two vibrotactile frequencies (Romo et al. 1999)",
    reference="Song, Yang & Wang 2017 Fig. 2C; spec song2017.md §5.6",
    inputs=("FIXATION", "F-POS", "F-NEG"),
    actions=("FIXATE", "CHOOSE-GREATER", "CHOOSE-LESS"),
    conditions={"order": (1.0, -1.0), "pair": tuple(float(i) for i in range(len(PAIRS)))},
    derived_variables=_frequencies,
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("f1", Fixed(500)),
        Epoch("delay", Uniform(2700, 3300)),
        Epoch("f2", Fixed(500)),
        Epoch("decision", None),
    ),
    tmax_ms=5550,  # 750 + 500 + 3300 + 500 + 500
    response_epoch="decision",
    mean_inputs=_inputs,
    noisy_inputs={"F-POS": ("f1", "f2"), "F-NEG": ("f1", "f2")},
    input_noise_var=0.001,  # per-step std sqrt(2*100*0.001/dt) = 0.141 at dt = 10 ms
    correct_action=_correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.97),
    n_validation=200,
    training=TrainingDefaults(lr=0.002, baseline_lr=0.002),
)
