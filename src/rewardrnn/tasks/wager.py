"""Post-decision wager (Kiani & Shadlen 2009), as trained by Song, Yang & Wang 2017 (Fig. 3;
spec §5.3, pyrl ``examples/models/postdecisionwager.py``).

Protocol: fixate 750 ms; random dots for 100 + truncexp(mean 180, [0, 800)) ms; a delay of
truncexp(mean 1350, [1200, 1800)) ms with the fixation cue still on; its offset is the go cue
and the choice may come until tmax = 3950 ms (>= 500 ms). On half of the trials (wager trials) a
sure target appears truncexp(mean 575, [500, 750)) ms after stimulus offset, during the delay,
and stays on. Choosing it pays 0.7 (R_SURE = 0.7 R_CORRECT) on wager trials; on other trials it
is punished like a fixation break (-1) and recorded as no answer.

Performance (pyrl ``PerformancePostdecisionWager``): ``p_decision`` is P(answer) (left, right or
an offered sure target), ``p_correct`` is P(correct | left/right decision) and ``p_sure`` is
P(sure | wager trial answered). Stop when P(answer) >= 0.99, P(correct) >= 0.79 and
0.4 < P(sure) <= 0.5.
"""

from __future__ import annotations

import numpy as np

from rewardrnn.deferred import jnp
from rewardrnn.tasks.protocol import (ChoiceOutcome, Criterion, Epoch, Event, Protocol, Psychometric,
                                      TrainingDefaults, coherence_scale)
from rewardrnn.tasks.samplers import Fixed, TruncatedExponential

FIXATE, CHOOSE_LEFT, CHOOSE_RIGHT, CHOOSE_SURE = 0, 1, 2, 3
#: Reward of the sure target on wager trials, as a fraction of the correct reward (spec §5.3).
SURE_REWARD_FRACTION = 0.7


def _inputs(v, on):
    signed = v["direction"] * v["coherence"]
    return {
        "FIXATION": on["fixation"] | on["stimulus"] | on["delay"],
        "LEFT": on["stimulus"] * coherence_scale(-signed),
        "RIGHT": on["stimulus"] * coherence_scale(signed),
        "SURE": v["wager"] * on["sure_onset"],
    }


def _choice_outcome(v, action, rewards):
    correct_side = jnp.where(v["direction"] > 0, CHOOSE_RIGHT, CHOOSE_LEFT)
    offered = v["wager"] > 0
    sure = action == CHOOSE_SURE
    correct = ~sure & (action == correct_side)
    side_reward = jnp.where(correct, rewards.correct, rewards.wrong)
    sure_reward = jnp.where(offered, SURE_REWARD_FRACTION * rewards.correct, rewards.abort)
    return ChoiceOutcome(reward=jnp.where(sure, sure_reward, side_reward),
                         is_decision=~sure | offered, correct=correct)


def _performance(v, outcomes):
    side = (outcomes.choice == CHOOSE_LEFT) | (outcomes.choice == CHOOSE_RIGHT)
    offered = v["wager"] > 0
    answered_wager = (outcomes.decision & offered).sum(-1)
    return {
        "p_correct": outcomes.correct.sum(-1) / jnp.maximum(side.sum(-1), 1),
        "p_sure": ((outcomes.choice == CHOOSE_SURE) & offered).sum(-1) / jnp.maximum(answered_wager, 1),
    }


def _input_blocks(n_units: int) -> np.ndarray:
    """pyrl's ``Win`` blocks (spec §5.3): fixation to every unit, left/right evidence to the
    first half of the units, the sure target to the second half."""
    blocks = np.zeros((4, n_units), np.float32)
    half = n_units // 2
    blocks[0] = 1.0
    blocks[1:3, :half] = 1.0
    blocks[3, half:] = 1.0
    return blocks


def _annotate(table):
    table["sure_chosen"] = table["choice"] == "CHOOSE-SURE"
    return table


WAGER = Protocol(
    name="wager",
    summary="post-decision wager with a sure target (Kiani & Shadlen 2009)",
    reference="Song, Yang & Wang 2017 Fig. 3; spec song2017.md §5.3",
    inputs=("FIXATION", "LEFT", "RIGHT", "SURE"),
    actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT", "CHOOSE-SURE"),
    conditions={"wager": (1.0, 0.0), "direction": (-1.0, 1.0),
                "coherence": (0.0, 3.2, 6.4, 12.8, 25.6, 51.2)},
    epochs=(
        Epoch("fixation", Fixed(750)),
        Epoch("stimulus", TruncatedExponential(mean=180, low=0, high=800, offset=100)),
        Epoch("delay", TruncatedExponential(mean=1350, low=1200, high=1800)),
        Epoch("decision", None),
    ),
    events=(Event("sure_onset", after="stimulus", delay=TruncatedExponential(mean=575, low=500, high=750)),),
    tmax_ms=3950,  # 750 + 100 + 800 + 1800 + 500
    response_epoch="decision",
    mean_inputs=_inputs,
    noisy_inputs={"LEFT": ("stimulus",), "RIGHT": ("stimulus",)},
    input_noise_var=0.01,
    choice_outcome=_choice_outcome,
    performance=_performance,
    criterion=Criterion(min_p_decision=0.99, min_p_correct=0.79, p_sure=(0.4, 0.5)),
    n_validation=1200,
    psychometric=Psychometric(
        label="signed coherence (%)",
        signed_stimulus=lambda df: df["direction"] * df["coherence"],
        positive_action="CHOOSE-RIGHT",
        among=("CHOOSE-LEFT", "CHOOSE-RIGHT"),
    ),
    annotate=_annotate,
    training=TrainingDefaults(input_blocks=_input_blocks),
)
