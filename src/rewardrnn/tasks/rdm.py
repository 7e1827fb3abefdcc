"""Random-dots motion discrimination, fixed duration (Kiani, Hanks & Shadlen 2008), as trained
by Song, Yang & Wang 2017 (spec §5.1, pyrl ``examples/models/rdm_fixed.py``).

Protocol: fixate for 750 ms; motion of coherence c toward one of two targets for a duration drawn
from a truncated exponential (mean 330 ms, in [80, 1500)); the fixation cue goes off (the go
cue) and the 500-ms decision epoch begins. tmax = 750 + 1500 + 500 = 2750 ms (276 steps at 10 ms).

The reaction-time version (spec §5.2) lets the choice come at any time from stimulus onset (the
fixation cue's offset), up to 2000 ms, with rewards discounted by exp(-t / 10 s).
"""

from __future__ import annotations

import functools
import operator

from rewardrnn.tasks.protocol import Criterion, Epoch, Protocol, Psychometric, coherence_scale
from rewardrnn.tasks.samplers import Fixed, TruncatedExponential

FIXATE, CHOOSE_LEFT, CHOOSE_RIGHT = 0, 1, 2


def _dots_inputs(fixation_epochs: tuple[str, ...]):
    """Inputs of the random-dots tasks: a fixation cue on during ``fixation_epochs`` (its offset
    is the go cue) and, during the stimulus, LEFT / RIGHT evidence (1 -/+ c/100) / 2."""
    def inputs(v, on):
        signed = v["direction"] * v["coherence"]
        evidence = on["stimulus"]
        return {
            "FIXATION": functools.reduce(operator.or_, (on[e] for e in fixation_epochs)),
            "LEFT": evidence * coherence_scale(-signed),
            "RIGHT": evidence * coherence_scale(signed),
        }
    return inputs


def _correct_action(v):
    # At 0 % coherence the randomly drawn direction defines "correct" (spec §5.1).
    return (v["direction"] > 0) * (CHOOSE_RIGHT - CHOOSE_LEFT) + CHOOSE_LEFT


RDM_FIXED = Protocol(
    name="rdm-fixed",
    summary="random-dots decision, fixed/variable stimulus duration (Kiani et al. 2008)",
    reference="Song, Yang & Wang 2017 Fig. 1; spec song2017.md §5.1",
    inputs=("FIXATION", "LEFT", "RIGHT"),
    actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
    conditions={"direction": (-1.0, 1.0), "coherence": (0.0, 6.4, 12.8, 25.6, 51.2)},
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("stimulus", TruncatedExponential(mean=330, low=80, high=1500)),
        Epoch("decision", Fixed(500)),
    ),
    tmax_ms=2750,
    response_epoch="decision",
    mean_inputs=_dots_inputs(("fixation", "stimulus")),  # off at the decision epoch
    noisy_inputs={"LEFT": ("stimulus",), "RIGHT": ("stimulus",)},
    input_noise_var=0.01,  # sigma^2_in: per-step std sqrt(2*100*0.01/dt) = 0.447 at dt = 10 ms
    correct_action=_correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.80),
    n_validation=1000,
    psychometric=Psychometric(
        label="signed coherence (%)",
        signed_stimulus=lambda df: df["direction"] * df["coherence"],
        positive_action="CHOOSE-RIGHT",
    ),
)


RDM_RT = Protocol(
    name="rdm-rt",
    summary="random-dots decision, reaction-time version (Roitman & Shadlen 2002)",
    reference="Song, Yang & Wang 2017 Fig. 1-S2; spec song2017.md §5.2",
    inputs=("FIXATION", "LEFT", "RIGHT"),
    actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
    conditions={"direction": (-1.0, 1.0), "coherence": (0.0, 3.2, 6.4, 12.8, 25.6, 51.2)},
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("stimulus", Fixed(2000)),  # the choice may come at any time during the stimulus
    ),
    tmax_ms=2750,
    response_epoch="stimulus",
    mean_inputs=_dots_inputs(("fixation",)),  # off at stimulus onset
    noisy_inputs={"LEFT": ("stimulus",), "RIGHT": ("stimulus",)},
    input_noise_var=0.015,  # per-step std sqrt(2*100*0.015/dt) = 0.548 at dt = 10 ms
    correct_action=_correct_action,
    reward_tau_ms=10_000.0,  # rewards scaled by exp(-t / 10 s), t from trial start
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.80),
    n_validation=1200,
    psychometric=RDM_FIXED.psychometric,
)
