"""Multisensory integration (Raposo, Kaufman & Churchland 2014), as trained by Song, Yang &
Wang 2017 (Fig. 2B, Table 2; spec §5.5, pyrl ``examples/models/multisensory.py``).

Protocol: fixate 750 ms; a 1000-ms stimulus of f events/s (9..16) shown visually, auditorily or
both; the fixation cue goes off and the choice (low / high, boundary 12.5 events/s) is made in a
500-ms decision epoch. Each modality is coded by a positively and a negatively tuned channel,
(1 +/- s)/2 with s = (f - 2)/21, with independent noise on the channels of the modalities shown.
The decision network has N = 150 units; the initial input weights give the visual channels to
the first third of the units and the auditory ones to the last third (spec §5.5). Stop at
P(decision) >= 0.99 and P(correct | decision) >= 0.82.

``modality`` is 0 (visual), 1 (auditory) or 2 (both).
"""

from __future__ import annotations

import numpy as np

from rewardrnn.deferred import jnp
from rewardrnn.tasks.protocol import Criterion, Epoch, Protocol, Psychometric, TrainingDefaults
from rewardrnn.tasks.samplers import Fixed

FIXATE, CHOOSE_LOW, CHOOSE_HIGH = 0, 1, 2
VISUAL, AUDITORY, BOTH = 0.0, 1.0, 2.0
BOUNDARY = 12.5  # events/s
F_MIN = 2.0
F_MAX = 2 * BOUNDARY - F_MIN  # 23 events/s
_CHANNELS = ("VISUAL-P", "VISUAL-N", "AUDITORY-P", "AUDITORY-N")


def _modalities(v):
    return {"visual": (v["modality"] != AUDITORY).astype(jnp.float32),
            "auditory": (v["modality"] != VISUAL).astype(jnp.float32)}


def _inputs(v, on):
    s = (v["frequency"] - F_MIN) / (F_MAX - F_MIN)
    stim = on["stimulus"]
    return {
        "FIXATION": on["fixation"] | stim,
        "VISUAL-P": stim * v["visual"] * (1 + s) / 2,
        "VISUAL-N": stim * v["visual"] * (1 - s) / 2,
        "AUDITORY-P": stim * v["auditory"] * (1 + s) / 2,
        "AUDITORY-N": stim * v["auditory"] * (1 - s) / 2,
    }


def _noise_gate(v):
    """Noise only on the channels of the modalities shown."""
    return {"VISUAL-P": v["visual"], "VISUAL-N": v["visual"],
            "AUDITORY-P": v["auditory"], "AUDITORY-N": v["auditory"]}


def _correct_action(v):
    return jnp.where(v["frequency"] > BOUNDARY, CHOOSE_HIGH, CHOOSE_LOW)


def _input_blocks(n_units: int) -> np.ndarray:
    """pyrl's ``Win`` blocks (spec §5.5): fixation to every unit, visual channels to the first
    third, auditory channels to the last third; the middle third gets only the fixation cue."""
    blocks = np.zeros((5, n_units), np.float32)
    third = n_units // 3
    blocks[0] = 1.0
    blocks[1:3, :third] = 1.0
    blocks[3:5, n_units - third:] = 1.0
    return blocks


def _annotate(table):
    table["modality_name"] = table["modality"].map({VISUAL: "v", AUDITORY: "a", BOTH: "va"})
    return table


MULTISENSORY = Protocol(
    name="multisensory",
    summary="visual/auditory/multisensory rate discrimination (Raposo et al. 2014)",
    reference="Song, Yang & Wang 2017 Fig. 2B, Table 2; spec song2017.md §5.5",
    inputs=("FIXATION",) + _CHANNELS,
    actions=("FIXATE", "CHOOSE-LOW", "CHOOSE-HIGH"),
    conditions={"modality": (VISUAL, AUDITORY, BOTH),
                "frequency": tuple(float(f) for f in range(9, 17))},
    derived_variables=_modalities,
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("stimulus", Fixed(1000)),
        Epoch("decision", Fixed(500)),
    ),
    tmax_ms=2250,
    response_epoch="decision",
    mean_inputs=_inputs,
    noisy_inputs={channel: ("stimulus",) for channel in _CHANNELS},
    noise_gate=_noise_gate,
    input_noise_var=0.021,  # per-step std sqrt(2*100*0.021/dt) = 0.648 at dt = 10 ms
    correct_action=_correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.82),
    n_validation=1200,
    psychometric=Psychometric(
        label="event rate (events/s)",
        signed_stimulus=lambda df: df["frequency"],
        positive_action="CHOOSE-HIGH",
    ),
    annotate=_annotate,
    training=TrainingDefaults(N=150, input_blocks=_input_blocks),
)
