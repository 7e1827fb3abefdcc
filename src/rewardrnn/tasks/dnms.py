"""Delayed non-match-to-sample with discrete choices: Miconi 2017's DNMS (spec miconi2017.md §4.1)
declared as a native task, so that Song et al.'s actor-critic trains Miconi's paradigm.

Miconi's stimuli and timing, in ms from trial start: the sample (A or B) during 0-200, a delay
200-400, the test stimulus (A or B) during 400-600, a delay 600-800, and the response from 800
until tmax = 1000 ms. Miconi's network reports by an output neuron's sign over the response
window; here the agent fixates until the response epoch (a fixation cue is on until then, its
offset is the go cue, pyrl's convention) and then chooses MATCH or NON-MATCH. The reward table is
pyrl's (spec song2017.md §5): -1 for breaking fixation or for no choice by tmax, +1 correct, 0
wrong. The inputs carry no noise (Miconi's DNMS has none). The criterion mirrors Miconi's (more
than 95 of 100 trials right): P(decision) >= 0.99 and P(correct | decision) >= 0.96.

``sample`` and ``test`` are 0 for A, 1 for B; the trial types AA, AB, BA, BB of Miconi's task
are the four conditions.
"""

from __future__ import annotations

from rewardrnn.deferred import jnp
from rewardrnn.tasks.protocol import Criterion, Epoch, Protocol
from rewardrnn.tasks.samplers import Fixed

FIXATE, MATCH, NON_MATCH = 0, 1, 2
#: Epoch durations of Miconi's DNMS (spec miconi2017.md §4.1), ms.
STIMULUS_MS, DELAY_MS, TMAX_MS = 200, 200, 1000


def _inputs(v, on):
    return {
        "FIXATION": ~on["decision"],
        "A": on["sample"] * (v["sample"] == 0) + on["test"] * (v["test"] == 0),
        "B": on["sample"] * (v["sample"] == 1) + on["test"] * (v["test"] == 1),
    }


def _correct_action(v):
    return jnp.where(v["sample"] == v["test"], MATCH, NON_MATCH)


DNMS_CHOICE = Protocol(
    name="dnms-choice",
    summary="delayed non-match-to-sample with match / non-match choices (Miconi 2017's DNMS, native)",
    reference="Miconi 2017 Fig. 1 (spec miconi2017.md §4.1) with pyrl's trial rules (song2017.md §5)",
    inputs=("FIXATION", "A", "B"),
    actions=("FIXATE", "MATCH", "NON-MATCH"),
    conditions={"sample": (0.0, 1.0), "test": (0.0, 1.0)},
    epochs=(
        Epoch("sample", Fixed(STIMULUS_MS)),
        Epoch("delay1", Fixed(DELAY_MS)),
        Epoch("test", Fixed(STIMULUS_MS)),
        Epoch("delay2", Fixed(DELAY_MS)),
        Epoch("decision", None),
    ),
    tmax_ms=TMAX_MS,
    response_epoch="decision",
    mean_inputs=_inputs,
    noisy_inputs={},
    input_noise_var=0.0,
    correct_action=_correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.96),
    n_validation=400,
)
