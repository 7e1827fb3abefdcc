"""A new paradigm in one file: the pro/anti-saccade task (Hallett 1978; Munoz & Everling 2004).

A rule cue says *pro* or *anti* from the start of the trial; a target then flashes on the left or
the right, at one of three contrasts, in noise. When the fixation point goes off, the monkey looks
toward the target on pro trials and away from it on anti trials.

Train it:   rewardrnn train examples/tasks/pro_anti.py:PRO_ANTI -o runs/pro_anti
"""

from rewardrnn.tasks import Criterion, Epoch, Protocol, Psychometric
from rewardrnn.tasks.samplers import Fixed, Uniform

FIXATE, LEFT, RIGHT = 0, 1, 2


def mean_inputs(v, on):
    """What each input channel shows, given the trial's variables ``v`` and the epoch flags ``on``
    (the noise-free value; the engine adds the input noise)."""
    pro = v["rule"] == 0
    cue = on["stimulus"] * v["contrast"]
    return {
        "FIXATION": on["fixation"] | on["stimulus"],  # off at the response epoch: the go cue
        "PRO": (on["fixation"] | on["stimulus"]) * pro,
        "ANTI": (on["fixation"] | on["stimulus"]) * (1 - pro),
        "LEFT": cue * (v["side"] < 0),
        "RIGHT": cue * (v["side"] > 0),
    }


def correct_action(v):
    """Toward the target on pro trials, away from it on anti trials."""
    toward_right = (v["side"] > 0) == (v["rule"] == 0)
    return toward_right * (RIGHT - LEFT) + LEFT


PRO_ANTI = Protocol(
    name="pro-anti",
    summary="pro/anti-saccade: look toward or away from a flashed target, by rule",
    reference="Munoz & Everling 2004 (Nat Rev Neurosci 5:218); the rewardrnn tutorial, docs/tasks.md",
    inputs=("FIXATION", "PRO", "ANTI", "LEFT", "RIGHT"),
    actions=("FIXATE", "LOOK-LEFT", "LOOK-RIGHT"),
    conditions={"rule": (0.0, 1.0), "side": (-1.0, 1.0), "contrast": (0.25, 0.5, 1.0)},
    epochs=(
        Epoch("fixation", Fixed(300)),
        Epoch("stimulus", Uniform(200, 400)),
        Epoch("decision", Fixed(300)),
    ),
    tmax_ms=1000,
    response_epoch="decision",
    mean_inputs=mean_inputs,
    noisy_inputs={"LEFT": ("stimulus",), "RIGHT": ("stimulus",)},
    input_noise_var=0.01,
    correct_action=correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.90),
    n_validation=600,
    psychometric=Psychometric(
        label="target side x contrast, signed toward the correct-right (pro) side",
        signed_stimulus=lambda t: t["side"] * t["contrast"] * (1 - 2 * t["rule"]),
        positive_action="LOOK-RIGHT",
    ),
)
