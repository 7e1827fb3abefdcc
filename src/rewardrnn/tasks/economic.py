"""Economic choice between two juices (Padoa-Schioppa & Assad 2006), as trained by Song, Yang &
Wang 2017 (Fig. 4; spec §5.7, pyrl ``examples/models/padoaschioppa2006.py``).

Protocol: fixate 750 ms; an offer of n_A drops of juice A on one side and n_B drops of juice B
on the other is shown for U[1000, 2000) ms (juice identity one-hot per side, quantity n/5 with
weak noise); the fixation cue goes off and the choice may come until tmax = 3500 ms. Choosing a
side pays n x R(juice): R_B = 0.1 and R_A = juice_ratio x R_B. There is no wrong answer; a
choice is "correct" when its reward is at least the other side's (ties count as correct).
Aborts and no choice pay -1. The value network's input weights start 10x larger
(``baseline_Win = 10``). Stop at P(decision) >= 0.99 and P(correct | decision) >= 0.95.

``juice_ratio`` (task option, CLI ``--juice-ratio``) is 2.2 for the paper's main network; the
paper's second network used 4.1 with a wider offer set (pyrl's ``padoaschioppa2006_1A3B``).

``offers`` (task option, CLI ``--offers``): ``"paper"``, the paper's offer sets (the 4.1 set
for ratios above 3) and criterion; ``"ratio"`` (beyond the paper), offers built from the ratio
(:func:`ratio_offers`): the indifference point lies inside them with a near-tie on each side
(B worth about 10 % less, and about 10 % more, than A), and the stop criterion also asks
P(correct) >= 0.6 for every offer, so that it can only be met with the indifference point
between the two near-ties, within about 10 % of the ratio. The default is ``"paper"`` at the
paper's ratios (2.2, 4.1) and ``"ratio"`` at any other: with the paper's offers, a network
trained at another ratio can meet the paper's criterion with preferences far from its ratio
(an indifference point 35 % below it was seen before these offers existed).

``A_left`` is 1 when juice A is on the left; ``offer`` indexes the (n_B, n_A) offers;
``n_A``, ``n_B``, ``n_left`` and ``n_right`` are derived.
"""

from __future__ import annotations

import math

from rewardrnn.deferred import jnp
from rewardrnn.errors import ConfigError
from rewardrnn.tasks.protocol import ChoiceOutcome, Criterion, Epoch, Protocol, TrainingDefaults
from rewardrnn.tasks.samplers import Fixed, Uniform

FIXATE, CHOOSE_LEFT, CHOOSE_RIGHT = 0, 1, 2
#: Reward of one drop of juice B (spec §5.7).
R_B = 0.1
#: (n_B, n_A) offers of the main network (A = 2.2 B) and of the second one (A = 4.1 B).
OFFERS = ((0, 1), (1, 3), (1, 2), (1, 1), (2, 1), (3, 1), (4, 1), (6, 1), (2, 0))
OFFERS_WIDE = ((0, 1), (1, 2), (1, 1), (2, 1), (3, 1), (4, 1), (6, 1), (10, 1), (3, 0))
#: The paper's two ratios, which keep the paper's offers and criterion by default.
PAPER_RATIOS = (2.2, 4.1)
OFFER_SETS = ("paper", "ratio")
#: Value of B's side over A's side, n_B R_B / (n_A R_A), aimed at by :func:`ratio_offers` (the
#: near-ties are the 0.9 and 1.1 entries), and the largest quantities offered.
VALUE_RATIOS = (0.25, 0.5, 0.9, 1.1, 2.0, 4.0)
MAX_A, MAX_B = 12, 12
#: P(correct | decision) asked of every offer with ``offers="ratio"``.
PER_OFFER_CRITERION = 0.6


def ratio_offers(juice_ratio: float) -> tuple[tuple[int, int], ...]:
    """(n_B, n_A) offers for ``juice_ratio``: A alone, B alone, and for each value ratio of
    :data:`VALUE_RATIOS` the offer of at most ``MAX_A`` A and ``MAX_B`` B whose value ratio
    n_B / (n_A ratio) is nearest to it (in log, to 2 %; then the fewest drops) on the same side
    of 1 (never an exact tie), distinct and ordered by value ratio."""
    chosen = []
    for target in VALUE_RATIOS:  # on the target's side of indifference, never a tie
        side = [(n_b, n_a) for n_a in range(1, MAX_A + 1) for n_b in range(1, MAX_B + 1)
                if (n_b / (n_a * juice_ratio) - 1) * (target - 1) > 0]
        if not side:
            continue
        # nearest in log to 0.02, then the fewest drops
        best = min(side, key=lambda o: (round(abs(math.log(o[0] / (o[1] * juice_ratio)) - math.log(target)) / 0.02),
                                        o[0] + o[1]))
        if best not in chosen:
            chosen.append(best)
    chosen.sort(key=lambda o: o[0] / o[1])
    b_alone = max(1, math.ceil(juice_ratio))
    return ((0, 1), *chosen, (b_alone, 0))
#: Offered quantities are shown as n / 5 (spec §5.7).
QUANTITY_SCALE = 5.0


def economic_choice(juice_ratio: float = 2.2, offers: str | None = None) -> Protocol:
    """The economic-choice protocol with juice A worth ``juice_ratio`` drops of juice B, with the
    paper's offers or offers built from the ratio (``offers``; see the module docstring)."""
    if isinstance(juice_ratio, bool) or not isinstance(juice_ratio, (int, float)) \
            or not math.isfinite(juice_ratio) or juice_ratio <= 0:
        raise ConfigError(f"juice_ratio must be a positive number (A = ratio x B), got {juice_ratio!r}")
    if offers is None:
        offers = "paper" if juice_ratio in PAPER_RATIOS else "ratio"
    if offers not in OFFER_SETS:
        raise ConfigError(f"offers must be one of {', '.join(OFFER_SETS)}; got {offers!r}")
    from_ratio = offers == "ratio"
    criterion = Criterion(min_p_decision=0.99, min_p_correct=0.95,
                          min_p_correct_per_condition=PER_OFFER_CRITERION if from_ratio else None)
    offer_table = ratio_offers(juice_ratio) if from_ratio else OFFERS_WIDE if juice_ratio > 3 else OFFERS
    r_a = juice_ratio * R_B

    def quantities(v):
        table = jnp.asarray(offer_table, jnp.float32)[v["offer"].astype(jnp.int32)]
        n_b, n_a = table[..., 0], table[..., 1]
        a_left = v["A_left"] > 0
        return {"n_A": n_a, "n_B": n_b,
                "n_left": jnp.where(a_left, n_a, n_b), "n_right": jnp.where(a_left, n_b, n_a)}

    def inputs(v, on):
        offer = on["offer"]
        a_left = v["A_left"]
        return {
            "FIXATION": ~on["decision"],
            "L-A": offer * a_left, "L-B": offer * (1 - a_left),
            "R-A": offer * (1 - a_left), "R-B": offer * a_left,
            "N-L": offer * v["n_left"] / QUANTITY_SCALE,
            "N-R": offer * v["n_right"] / QUANTITY_SCALE,
        }

    def choice_outcome(v, action, rewards):
        a_left = v["A_left"] > 0
        value_left = v["n_left"] * jnp.where(a_left, r_a, R_B)
        value_right = v["n_right"] * jnp.where(a_left, R_B, r_a)
        left = action == CHOOSE_LEFT
        chosen = jnp.where(left, value_left, value_right)
        other = jnp.where(left, value_right, value_left)
        return ChoiceOutcome(reward=chosen, is_decision=jnp.ones_like(left), correct=chosen >= other)

    def annotate(table):
        chose_left = table["choice"] == "CHOOSE-LEFT"
        decided = table["decision"].astype(bool)
        a_chosen = chose_left == (table["A_left"] > 0)
        table["chosen_juice"] = a_chosen.map({True: "A", False: "B"}).where(decided, "")
        table["juice_ratio"] = float(juice_ratio)  # what the network was trained with (analyze checks it)
        return table

    return Protocol(
        name="economic",
        summary=f"economic choice between two juices, A = {juice_ratio:g} B (Padoa-Schioppa & Assad 2006)",
        reference="Song, Yang & Wang 2017 Fig. 4; spec song2017.md §5.7",
        inputs=("FIXATION", "L-A", "L-B", "R-A", "R-B", "N-L", "N-R"),
        actions=("FIXATE", "CHOOSE-LEFT", "CHOOSE-RIGHT"),
        conditions={"A_left": (1.0, 0.0), "offer": tuple(float(i) for i in range(len(offer_table)))},
        derived_variables=quantities,
        epochs=(
            Epoch("fixation", Fixed(750)),
            Epoch("offer", Uniform(1000, 2000)),
            Epoch("decision", None),
        ),
        tmax_ms=3500,  # 750 + 2000 + 750
        response_epoch="decision",
        mean_inputs=inputs,
        noisy_inputs={"N-L": ("offer",), "N-R": ("offer",)},
        input_noise_var=0.001,
        choice_outcome=choice_outcome,
        criterion=criterion,
        n_validation=900,
        annotate=annotate,
        training=TrainingDefaults(baseline_input_scale=10.0),
    )


ECONOMIC = economic_choice()
