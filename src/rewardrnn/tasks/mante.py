"""Context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013), as trained by Song,
Yang & Wang 2017 (Fig. 2A; spec §5.4, pyrl ``examples/models/mante.py``).

Protocol: a context cue (motion or colour) is on during fixation (750 ms), stimulus (750 ms) and
delay (300 + truncexp(mean 300, [0, 1200)) ms); it doubles as the fixation cue and its offset is
the go signal; the choice may come until tmax = 3500 ms. During the stimulus both the motion
pair and the colour pair of evidence channels are on, each with independent noise; the correct
choice follows the direction of the cued modality only. Stop at P(decision) >= 0.99 and
P(correct | decision) >= 0.85.

``context`` is 0 for motion and 1 for colour.
"""

from __future__ import annotations

from rewardrnn.deferred import jnp
from rewardrnn.tasks.protocol import Criterion, Epoch, Protocol, Psychometric, coherence_scale
from rewardrnn.tasks.samplers import Fixed, TruncatedExponential

FIXATE, CHOOSE_LEFT, CHOOSE_RIGHT = 0, 1, 2
MOTION_CONTEXT, COLOUR_CONTEXT = 0.0, 1.0
_EVIDENCE = ("MOTION-LEFT", "MOTION-RIGHT", "COLOR-LEFT", "COLOR-RIGHT")


def _inputs(v, on):
    cue = on["fixation"] | on["stimulus"] | on["delay"]
    motion = v["motion_direction"] * v["motion_coherence"]
    colour = v["colour_direction"] * v["colour_coherence"]
    stim = on["stimulus"]
    return {
        "MOTION": cue * (v["context"] == MOTION_CONTEXT),
        "COLOR": cue * (v["context"] == COLOUR_CONTEXT),
        "MOTION-LEFT": stim * coherence_scale(-motion),
        "MOTION-RIGHT": stim * coherence_scale(motion),
        "COLOR-LEFT": stim * coherence_scale(-colour),
        "COLOR-RIGHT": stim * coherence_scale(colour),
    }


def _relevant_direction(v):
    return jnp.where(v["context"] == MOTION_CONTEXT, v["motion_direction"], v["colour_direction"])


def _correct_action(v):
    return jnp.where(_relevant_direction(v) > 0, CHOOSE_RIGHT, CHOOSE_LEFT)


def _annotate(table):
    table["context_name"] = table["context"].map({MOTION_CONTEXT: "motion", COLOUR_CONTEXT: "colour"})
    return table


def _relevant_signed_coherence(df):
    motion = df["motion_direction"] * df["motion_coherence"]
    colour = df["colour_direction"] * df["colour_coherence"]
    return motion.where(df["context"] == MOTION_CONTEXT, colour)


MANTE = Protocol(
    name="mante",
    summary="context-dependent integration of motion or colour (Mante et al. 2013)",
    reference="Song, Yang & Wang 2017 Fig. 2A; spec song2017.md §5.4",
    inputs=("MOTION", "COLOR") + _EVIDENCE,
    actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
    conditions={"context": (MOTION_CONTEXT, COLOUR_CONTEXT),
                "motion_direction": (-1.0, 1.0), "colour_direction": (-1.0, 1.0),
                "motion_coherence": (5.0, 15.0, 50.0), "colour_coherence": (5.0, 15.0, 50.0)},
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("stimulus", Fixed(750)),
        Epoch("delay", TruncatedExponential(mean=300, low=0, high=1200, offset=300)),
        Epoch("decision", None),
    ),
    tmax_ms=3500,  # 750 + 750 + 300 + 1200 + 500
    response_epoch="decision",
    mean_inputs=_inputs,
    noisy_inputs={channel: ("stimulus",) for channel in _EVIDENCE},
    input_noise_var=0.02,  # per-step std sqrt(2*100*0.02/dt) = 0.632 at dt = 10 ms
    correct_action=_correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.85),
    n_validation=3600,
    psychometric=Psychometric(
        label="signed coherence of the cued modality (%)",
        signed_stimulus=_relevant_signed_coherence,
        positive_action="CHOOSE-RIGHT",
    ),
    annotate=_annotate,
)
