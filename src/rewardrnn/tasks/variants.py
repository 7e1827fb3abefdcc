"""Task variants without code: set the fields of a protocol a user would vary, by name.

A *setting* is a dotted key and a value; :func:`apply` returns the protocol with the settings
applied, after :func:`normalise` has checked every one of them (an unknown key or a value of the
wrong kind raises :class:`~rewardrnn.errors.ConfigError` naming the key and what is allowed).

=============================  ==========================================================
key                            value
=============================  ==========================================================
``<epoch>.duration``           a duration sampler (below), ms
``<event>.delay``              a duration sampler: the event's delay after its epoch, ms
``conditions.<variable>``      a non-empty list of distinct numbers (the condition grid)
``input_noise_var``            σ²_in, a number >= 0 (per-step std sqrt(2·100·σ²_in/dt))
``rewards.<name>``             a number: ``abort``, ``terminal``, ``correct``, ``wrong``
``tmax_ms``                    the trial's last time, ms (> 0)
``reward_tau_ms``              rewards discounted by exp(-t / tau), ms (> 0, or ``inf``)
``criterion.min_p_decision``   a number in [0, 1]
``criterion.min_p_correct``    a number in [0, 1]
``criterion.p_sure``           [low, high] with 0 <= low < high <= 1 (tasks with a sure option)
``criterion.min_p_correct_per_condition``  a number in [0, 1]: P(correct) in every condition
=============================  ==========================================================

Duration samplers (:mod:`rewardrnn.tasks.samplers`) are written as a number of ms (a fixed
duration) or as ``fixed(MS)``, ``uniform(LOW, HIGH)`` or ``truncexp(MEAN, LOW, HIGH)`` /
``truncexp(MEAN, LOW, HIGH, OFFSET)`` (pyrl's truncated exponential), all in ms.

On the command line a setting is ``--set KEY=VALUE``: the value is read as JSON where it is JSON
(``0.02``, ``[0, 12.8, 51.2]``, ``true``), as a comma-separated list of numbers where it is one
(``0,12.8,51.2``) and as text otherwise (``uniform(300, 700)``). A run file holds them under
``[task_settings]``. The saved form (``config.json``) is :func:`normalise`'s: numbers, lists of
numbers, and samplers written out in full (``"truncexp(330, 80, 1500)"``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from rewardrnn.errors import ConfigError
from rewardrnn.tasks.protocol import Epoch, Event, Protocol
from rewardrnn.tasks.samplers import Fixed, Sampler, TruncatedExponential, Uniform

#: How a duration sampler is written.
SAMPLER_SYNTAX = "a number of ms, fixed(MS), uniform(LOW, HIGH) or truncexp(MEAN, LOW, HIGH[, OFFSET])"
REWARD_NAMES = ("abort", "terminal", "correct", "wrong")
_SAMPLER = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.IGNORECASE)


# ---- what can be set ---------------------------------------------------------------------------
def settable(protocol: Protocol) -> dict[str, str]:
    """Every key that can be set on ``protocol``, with its current value written as a setting."""
    keys: dict[str, str] = {}
    for epoch in protocol.epochs:
        if epoch.duration is not None:
            keys[f"{epoch.name}.duration"] = sampler_text(epoch.duration)
    for event in protocol.events:
        keys[f"{event.name}.delay"] = sampler_text(event.delay)
    for name, values in protocol.conditions.items():
        keys[f"conditions.{name}"] = json.dumps([_number(v) for v in values])
    keys["input_noise_var"] = _text(protocol.input_noise_var)
    for name in REWARD_NAMES:
        keys[f"rewards.{name}"] = _text(getattr(protocol.rewards, name))
    keys["tmax_ms"] = _text(protocol.tmax_ms)
    keys["reward_tau_ms"] = _text(protocol.reward_tau_ms)
    keys["criterion.min_p_decision"] = _text(protocol.criterion.min_p_decision)
    keys["criterion.min_p_correct"] = _text(protocol.criterion.min_p_correct)
    per_condition = protocol.criterion.min_p_correct_per_condition
    keys["criterion.min_p_correct_per_condition"] = "none" if per_condition is None else _text(per_condition)
    if protocol.criterion.p_sure is not None:
        keys["criterion.p_sure"] = json.dumps([_number(v) for v in protocol.criterion.p_sure])
    return keys


# ---- reading settings --------------------------------------------------------------------------
def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line as (key, value); see the module docstring."""
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"--set takes KEY=VALUE (e.g. stimulus.duration=uniform(300,700)), got {text!r}")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key:
        raise ConfigError(f"--set takes KEY=VALUE with a key before '=', got {text!r}")
    if not raw:
        raise ConfigError(f"--set {key}= has no value")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        pass
    if "," in raw and "(" not in raw:
        try:
            return key, [float(part) for part in raw.split(",")]
        except ValueError:
            pass
    return key, raw


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables (a run file's ``stimulus.duration = ...`` is ``{"stimulus": {"duration":
    ...}}``) as one mapping of dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def normalise(protocol: Protocol, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings checked against ``protocol`` and written in their saved form; a
    :class:`ConfigError` naming the first bad key or value otherwise."""
    if not isinstance(settings, Mapping):
        raise ConfigError(f"task settings must be a mapping of keys to values, got {settings!r}")
    allowed = settable(protocol)
    out: dict[str, Any] = {}
    for key, value in flatten(settings).items():
        if key not in allowed:
            raise ConfigError(f"unknown task setting {key!r} for {protocol.name}; settable: {', '.join(allowed)}")
        out[key] = _normalise_one(protocol, key, value)
    apply(protocol, out)  # the combination is checked too (tmax against the epochs...)
    return out


def _normalise_one(protocol: Protocol, key: str, value: Any) -> Any:
    head, _, tail = key.partition(".")
    if tail in ("duration", "delay"):
        return sampler_text(parse_sampler(key, value))
    if head == "conditions":
        return _condition_values(key, value)
    if head == "rewards":
        return _number_in(key, value, -math.inf, math.inf, "a number")
    if key == "input_noise_var":
        return _number_in(key, value, 0.0, math.inf, "a number >= 0")
    if key == "tmax_ms":
        return _positive(key, value)
    if key == "reward_tau_ms":
        if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
            return "inf"
        return _positive(key, value)
    if key == "criterion.p_sure":
        if not (isinstance(value, list) and len(value) == 2):
            raise ConfigError(f"{key} must be a list [low, high] with 0 <= low < high <= 1, got {value!r}")
        low, high = (_number_in(key, v, 0.0, 1.0, "a list [low, high] with 0 <= low < high <= 1") for v in value)
        if not low < high:
            raise ConfigError(f"{key} must be a list [low, high] with low < high, got {value!r}")
        return [low, high]
    return _number_in(key, value, 0.0, 1.0, "a number in [0, 1]")  # criterion.min_p_*


# ---- applying them -----------------------------------------------------------------------------
def vary(protocol: Protocol, settings: Mapping[str, Any]) -> Protocol:
    """``protocol`` with ``settings`` (as a user wrote them) checked and applied."""
    return apply(protocol, normalise(protocol, settings))


def apply(protocol: Protocol, settings: Mapping[str, Any]) -> Protocol:
    """``protocol`` with the (normalised) ``settings`` applied; a :class:`ConfigError` where the
    result cannot run (the response epoch would start after tmax, an epoch shorter than a step...)."""
    if not settings:
        return protocol
    epochs = {e.name: e for e in protocol.epochs}
    events = {e.name: e for e in protocol.events}
    conditions = dict(protocol.conditions)
    rewards, criterion = {}, {}
    top: dict[str, Any] = {}
    for key, value in settings.items():
        head, _, tail = key.partition(".")
        if tail == "duration":
            epochs[head] = Epoch(head, parse_sampler(key, value))
        elif tail == "delay":
            events[head] = Event(head, events[head].after, parse_sampler(key, value))
        elif head == "conditions":
            conditions[tail] = tuple(float(v) for v in value)
        elif head == "rewards":
            rewards[tail] = float(value)
        elif head == "criterion":
            criterion[tail] = tuple(value) if tail == "p_sure" else float(value)
        else:
            top[key] = math.inf if value == "inf" else float(value)
    varied = dataclasses.replace(
        protocol, epochs=tuple(epochs[e.name] for e in protocol.epochs),
        events=tuple(events[e.name] for e in protocol.events), conditions=conditions,
        rewards=dataclasses.replace(protocol.rewards, **rewards),
        criterion=dataclasses.replace(protocol.criterion, **criterion), **top)
    _check_timing(varied)
    return varied


def _check_timing(protocol: Protocol) -> None:
    """The response epoch must be reachable: every epoch before it, at its longest, ends before
    tmax."""
    before = 0.0
    for epoch in protocol.epochs:
        if epoch.name == protocol.response_epoch:
            break
        before += epoch.duration.max_ms
    if before >= protocol.tmax_ms:
        raise ConfigError(f"tmax_ms={_text(protocol.tmax_ms)} ms ends {protocol.name}'s trials before the "
                          f"{protocol.response_epoch!r} epoch, which can start as late as {_text(before)} ms; "
                          f"set tmax_ms above {_text(before)} or shorten the epochs before it")


# ---- samplers ----------------------------------------------------------------------------------
def parse_sampler(key: str, value: Any) -> Sampler:
    """A duration sampler from its written form (see :data:`SAMPLER_SYNTAX`)."""
    if _is_number(value):
        return Fixed(_number_in(key, value, 0.0, math.inf, SAMPLER_SYNTAX + " (durations >= 0)"))
    match = _SAMPLER.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"{key} must be {SAMPLER_SYNTAX}; got {value!r}")
    kind, args_text = match.group(1).lower(), match.group(2)
    try:
        args = [float(a) for a in args_text.split(",")] if args_text.strip() else []
    except ValueError:
        raise ConfigError(f"{key}: the arguments of {kind}(...) must be numbers of ms, got {value!r}") from None
    if not all(math.isfinite(a) and a >= 0 for a in args):
        raise ConfigError(f"{key}: durations must be finite numbers of ms >= 0, got {value!r}")
    if kind == "fixed" and len(args) == 1:
        return Fixed(args[0])
    if kind == "uniform" and len(args) == 2:
        if args[0] > args[1]:
            raise ConfigError(f"{key}: uniform(LOW, HIGH) needs LOW <= HIGH, got {value!r}")
        return Uniform(*args)
    if kind == "truncexp" and len(args) in (3, 4):
        mean, low, high = args[:3]
        if mean <= 0 or low >= high:
            raise ConfigError(f"{key}: truncexp(MEAN, LOW, HIGH) needs MEAN > 0 and LOW < HIGH, got {value!r}")
        return TruncatedExponential(mean, low, high, args[3] if len(args) == 4 else 0.0)
    raise ConfigError(f"{key} must be {SAMPLER_SYNTAX}; got {value!r}")


def sampler_text(sampler: Sampler) -> str:
    """The written form of ``sampler`` (what :func:`parse_sampler` reads back)."""
    if isinstance(sampler, Fixed):
        return f"fixed({_text(sampler.ms)})"
    if isinstance(sampler, Uniform):
        return f"uniform({_text(sampler.low)}, {_text(sampler.high)})"
    args = [sampler.mean, sampler.low, sampler.high] + ([sampler.offset] if sampler.offset else [])
    return f"truncexp({', '.join(_text(a) for a in args)})"


# ---- values ------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: float) -> int | float:
    """An integral float as an int (``330.0`` -> ``330``), for writing."""
    return int(value) if math.isfinite(value) and float(value).is_integer() else float(value)


def _text(value: float) -> str:
    return "inf" if value == math.inf else repr(_number(value))


def _number_in(key: str, value: Any, low: float, high: float, what: str) -> int | float:
    if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{key} must be {what}, got {value!r}")
    return _number(value)


def _positive(key: str, value: Any) -> int | float:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key} must be a positive number of ms, got {value!r}")
    return _number(value)


def _condition_values(key: str, value: Any) -> list:
    what = "a non-empty list of distinct numbers"
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key} must be {what}, got {value!r}")
    numbers = [_number_in(key, v, -math.inf, math.inf, what) for v in value]
    if len(set(numbers)) != len(numbers):
        raise ConfigError(f"{key} must be {what}; {value!r} repeats a value")
    return numbers
