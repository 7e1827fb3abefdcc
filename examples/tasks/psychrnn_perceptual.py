"""PsychRNN's PerceptualDiscrimination, ported as a task file (Ehrlich et al. 2021, eNeuro 8:ENEURO.0427-20.2020).

Two input channels carry noisy evidence for the two directions in *every* epoch (PsychRNN adds
input noise to the whole trial), the fixation period varies from trial to trial
(``Uniform(100, 1000)`` ms, PsychRNN's ``stim_noise`` and variable onset), and the choice is made
after the stimulus. The analyses align on the first epoch with a noisy input: here the first
epoch itself, whose duration and onset are columns of the behaviour table like every epoch's.

Train it:   rewardrnn train examples/tasks/psychrnn_perceptual.py:PERCEPTUAL -o runs/perceptual
"""

from rewardrnn.tasks import Criterion, Epoch, Protocol, Psychometric
from rewardrnn.tasks.samplers import Fixed, Uniform

FIXATE, LEFT, RIGHT = 0, 1, 2


def mean_inputs(v, on):
    """Evidence (1 + coherence) / 2 for the true direction and (1 - coherence) / 2 for the other,
    during the stimulus; the fixation cue until the decision epoch."""
    evidence = on["stimulus"] * v["coherence"] / 2
    return {
        "FIXATION": on["fixation"] | on["stimulus"],
        "LEFT": on["stimulus"] * 0.5 + evidence * (v["direction"] < 0) - evidence * (v["direction"] > 0),
        "RIGHT": on["stimulus"] * 0.5 + evidence * (v["direction"] > 0) - evidence * (v["direction"] < 0),
    }


def correct_action(v):
    return (v["direction"] > 0) * (RIGHT - LEFT) + LEFT


PERCEPTUAL = Protocol(
    name="psychrnn-perceptual",
    summary="PsychRNN's perceptual discrimination: noise in every epoch, a variable fixation",
    reference="Ehrlich et al. 2021 (PsychRNN, eNeuro); its tasks/perceptual_discrimination.py",
    inputs=("FIXATION", "LEFT", "RIGHT"),
    actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
    conditions={"direction": (-1.0, 1.0), "coherence": (0.1, 0.3, 0.5, 0.7)},
    epochs=(
        Epoch("fixation", Uniform(100, 1000)),
        Epoch("stimulus", Fixed(800)),
        Epoch("decision", Fixed(300)),
    ),
    tmax_ms=2100,
    response_epoch="decision",
    mean_inputs=mean_inputs,
    noisy_inputs={"LEFT": ("fixation", "stimulus", "decision"), "RIGHT": ("fixation", "stimulus", "decision")},
    input_noise_var=0.01,
    correct_action=correct_action,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.90),
    n_validation=400,
    psychometric=Psychometric(
        label="coherence, signed toward RIGHT",
        signed_stimulus=lambda t: t["direction"] * t["coherence"],
        positive_action="CHOOSE-RIGHT",
    ),
)
