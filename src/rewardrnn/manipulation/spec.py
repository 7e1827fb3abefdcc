"""What a manipulation is, as the user writes it (``rewardrnn perturb``'s options), checked
before any work. Plain data: resolving unit groups needs the trained network
(:mod:`rewardrnn.manipulation.groups`).

Options (each repeatable except ``noise``; everything combines):

* ``silence``: unit groups whose rates are held at zero (the unit's state is set to 0, its
  threshold, at every manipulated step: it sends nothing through the recurrent, gate or readout
  weights; on release it starts from threshold);
* ``cut``: connections removed:
  ``recurrent``, ``input`` or ``readout`` (all of them), ``recurrent:F`` / ``input:F`` /
  ``readout:F`` (a fraction F in [0, 1] of the existing ones, at random with ``seed``),
  ``input:CHANNEL`` (every weight from one input channel), ``readout:ACTION`` (every weight to one
  action's readout), ``FROM->TO`` (the recurrent connections from one unit group to another; all
  three recurrent blocks of the gated unit, which are one synapse's three weights), or
  ``FROM:TO`` where neither group has a colon of its own (``exc:inh``);
* ``stimulate``: ``GROUP=AMPLITUDE``, a current added to the units' input drive, in the units of
  the input drive ``u W_in`` (inside the gated term of Song et al.'s unit, as the inputs); a
  negative amplitude inhibits;
* ``noise``: extra private noise of variance ``VAR`` per unit, in the convention of the network's
  own ``var_rec`` (per-step std ``sqrt(2 tau / dt * VAR)``), drawn from a stream of its own;
* ``during``: the epochs in which all of the above act (default: the whole trial);
* ``network``: which network is manipulated, ``decision`` (default) or ``value`` (the
  actor-critic's value network: the behaviour cannot change, its predictions can).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass

from rewardrnn.errors import ConfigError

#: The networks a manipulation can act on.
NETWORKS = ("decision", "value")
#: The weights a cut can name on its own.
CUT_TARGETS = ("recurrent", "input", "readout")
#: Characters a perturbation's folder name may hold.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}$")


@dataclass(frozen=True)
class Cut:
    """One ``--cut``: ``what`` is recurrent, input or readout; then either a ``fraction`` (1: all),
    a ``channel`` (an input channel or an action), or the groups ``source`` -> ``target``."""

    what: str
    fraction: float | None = None
    channel: str | None = None
    source: str | None = None
    target: str | None = None


def parse_cut(text: str) -> Cut:
    """A ``--cut`` string (module docstring) as a :class:`Cut`; one line naming the bad part."""
    text = str(text).strip()
    if not text:
        raise ConfigError("--cut: empty; give recurrent, input, readout (optionally :FRACTION), input:CHANNEL, "
                          "readout:ACTION or FROM->TO unit groups")
    if "->" in text:
        source, _, target = text.partition("->")
        if not source.strip() or not target.strip():
            raise ConfigError(f"--cut {text!r}: FROM->TO needs a unit group on each side")
        return Cut("recurrent", source=source.strip(), target=target.strip())
    head, sep, rest = text.partition(":")
    if head in CUT_TARGETS:
        if not sep:
            return Cut(head, fraction=1.0)
        try:
            fraction = float(rest)
        except ValueError:
            if head == "recurrent":
                raise ConfigError(f"--cut {text!r}: after recurrent: give a fraction in [0, 1]; "
                                  "between unit groups write FROM->TO") from None
            return Cut(head, channel=rest)
        if not (math.isfinite(fraction) and 0 <= fraction <= 1):
            raise ConfigError(f"--cut {text!r}: the fraction must be in [0, 1], got {rest}")
        return Cut(head, fraction=fraction)
    if sep and ":" not in rest:
        return Cut("recurrent", source=head, target=rest)
    raise ConfigError(f"--cut {text!r} is not a cut: give recurrent, input, readout (optionally :FRACTION), "
                      "input:CHANNEL, readout:ACTION, FROM:TO or FROM->TO (groups with a colon of their own)")


def parse_stimulation(text: str) -> tuple[str, float]:
    """``GROUP=AMPLITUDE`` as (group, amplitude); one line naming the bad part."""
    group, sep, amplitude = str(text).rpartition("=")
    if not sep or not group.strip():
        raise ConfigError(f"--stimulate {text!r}: write GROUP=AMPLITUDE, e.g. readout:CHOOSE-RIGHT:10=0.5")
    try:
        value = float(amplitude)
    except ValueError:
        raise ConfigError(f"--stimulate {text!r}: the amplitude {amplitude!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--stimulate {text!r}: the amplitude must be finite")
    return group.strip(), value


@dataclass(frozen=True)
class Manipulation:
    """Everything done to the network (module docstring): unit groups to silence, cuts,
    stimulations (group, amplitude), extra noise variance, the epochs it acts in (empty: the
    whole trial), the seed of its random choices (``random:K`` groups, cut fractions) and the
    network it acts on."""

    silence: tuple[str, ...] = ()
    cut: tuple[Cut, ...] = ()
    stimulate: tuple[tuple[str, float], ...] = ()
    noise: float = 0.0
    during: tuple[str, ...] = ()
    seed: int = 0
    network: str = "decision"

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ConfigError(f"--network {self.network!r}: choose {' or '.join(NETWORKS)}")
        if isinstance(self.noise, bool) or not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise)
                                                and self.noise >= 0):
            raise ConfigError(f"--noise must be a variance >= 0 (the network's var_rec convention), got {self.noise!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"--manipulation-seed must be an integer >= 0, got {self.seed!r}")

    @classmethod
    def from_options(cls, silence=(), cut=(), stimulate=(), noise: float = 0.0, during: str | None = None,
                     seed: int = 0, network: str = "decision") -> Manipulation:
        """From the command line's strings (``during`` comma-separated epochs)."""
        epochs = tuple(e.strip() for e in (during or "").split(",") if e.strip())
        return cls(silence=tuple(str(g).strip() for g in silence or ()),
                   cut=tuple(parse_cut(c) for c in cut or ()),
                   stimulate=tuple(parse_stimulation(s) for s in stimulate or ()),
                   noise=noise, during=epochs, seed=seed, network=network)

    def is_empty(self) -> bool:
        """Whether nothing is done (the perturbed network is the intact one)."""
        return not (self.silence or self.cut or self.stimulate or self.noise)

    def to_dict(self) -> dict:
        """JSON-ready: what was asked for."""
        out = asdict(self)
        out["cut"] = [{k: v for k, v in asdict(c).items() if v is not None} for c in self.cut]
        out["stimulate"] = [{"units": g, "amplitude": a} for g, a in self.stimulate]
        out["during"] = list(self.during) or "the whole trial"
        return out

    def words(self) -> str:
        """One line for humans: 'silence readout:CHOOSE-LEFT:10; stimulate 3,4=0.5 during stimulus'."""
        parts = [f"silence {g}" for g in self.silence]
        parts += [f"cut {_cut_words(c)}" for c in self.cut]
        parts += [f"stimulate {g} at {a:g}" for g, a in self.stimulate]
        if self.noise:
            parts.append(f"extra noise var {self.noise:g}")
        text = "; ".join(parts) or "nothing (intact)"
        text += f" during {', '.join(self.during)}" if self.during else ""
        return text if self.network == "decision" else f"{self.network} network: {text}"

    def folder_name(self) -> str:
        """A readable folder name for ``RUN/perturbations/`` (a hash when the words do not fit)."""
        parts = [f"silence_{g}" for g in self.silence] + [f"cut_{_cut_words(c)}" for c in self.cut]
        parts += [f"stimulate_{g}={a:g}" for g, a in self.stimulate] + ([f"noise_{self.noise:g}"] if self.noise else [])
        if self.during:
            parts.append("during_" + "+".join(self.during))
        if self.seed:
            parts.append(f"seed{self.seed}")
        if self.network != "decision":
            parts.insert(0, self.network)
        name = "__".join(parts) or "intact"
        name = re.sub(r"[^A-Za-z0-9._+=-]", "-", name.replace("->", "-to-").replace(":", "-"))
        if not _NAME.match(name):
            name = "perturbation-" + hashlib.sha256(self.words().encode()).hexdigest()[:12]
        return name


def check_name(name: str) -> str:
    """A ``--name`` for ``RUN/perturbations/NAME``: a plain folder name."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"--name {name!r} must be a plain folder name: letters, digits, . _ + = -, at most 100 "
                          "characters, not starting with . or -")
    return name


def _cut_words(cut: Cut) -> str:
    if cut.source is not None:
        return f"{cut.source}->{cut.target}"
    if cut.channel is not None:
        return f"{cut.what}:{cut.channel}"
    return cut.what if cut.fraction == 1.0 else f"{cut.what}:{cut.fraction:g}"
