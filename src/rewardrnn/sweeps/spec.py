"""Sweep files: a base run and the points that vary it, checked before any work.

A sweep file (TOML) holds::

    [base]                 # a run file (docs/tasks.md): task, learner and config fields
    task = "rdm-fixed"
    max_updates = 200

    [grid]                 # every combination of these values (seeds are an axis like any other)
    lr = [0.001, 0.002, 0.004, 0.008]
    seed = [1, 2, 3, 4]

    [[points]]             # and/or explicit points (crossed with the grid when both are given)
    N = 50
    "task_settings.stimulus.duration" = 500

    [[perturbations]]      # optional: each trained network is then perturbed (rewardrnn perturb)
    silence = "readout:10"
    during = "stimulus"
    trials_per_condition = 100

Keys are config fields (``lr``, ``N``, ``dale``...), ``task`` and ``learner`` (to sweep across
tasks or learners), or ``task_settings.KEY`` / ``task_options.KEY`` for a task's variant and
options. Every point's configuration is built and checked before the first run starts: a key
that no learner has, an empty grid, a value of the wrong type, a learner flag on the wrong
learner... each stops the sweep with one line naming the point and the key.

A ``[[perturbations]]`` table holds ``rewardrnn perturb``'s options (``silence``, ``cut``,
``stimulate``: a string or a list of strings; ``noise``; ``during``; ``network``;
``manipulation_seed``; ``trials_per_condition``; ``name``). Each is parsed before any training;
after a job trains, every seed's best network runs intact and under each, into
``JOB/perturbations/NAME__seedS/``, and the results table gains ``NAME:intact_KEY`` and
``NAME:perturbed_KEY`` for each pooled measure (a unit group that the trained network cannot
resolve is that perturbation's ``NAME:error``, not the job's).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardrnn.errors import ConfigError
from rewardrnn.resources import MAX_SWEEP_POINTS
from rewardrnn.tasks.variants import flatten
from rewardrnn.training import run_files
from rewardrnn.training.kinds import RunKind, kind_for

SECTIONS = ("base", "grid", "points", "perturbations")
#: Keys of a ``[[perturbations]]`` table.
PERTURBATION_KEYS = ("silence", "cut", "stimulate", "noise", "during", "network", "manipulation_seed",
                     "trials_per_condition", "name")
#: Largest sweep file read (a sweep file is a few lines of TOML).
MAX_FILE_BYTES = 10_000_000
#: Keys of a point that name a table entry of the config rather than a field.
TABLE_PREFIXES = ("task_settings.", "task_options.")


@dataclass(frozen=True)
class Job:
    """One run folder of the sweep: the varied values (``seed`` first of its seeds), the seeds it
    trains together, its kind and its config."""

    name: str
    varied: dict[str, Any]
    seeds: tuple[int, ...]
    kind: RunKind
    config: Any = field(repr=False)


@dataclass(frozen=True)
class Perturbation:
    """One ``[[perturbations]]`` entry, checked: its folder name, the manipulation's options as
    :func:`rewardrnn.perturbations.perturb` takes them (JSON-ready, for the workers) and the
    trials per condition."""

    name: str
    options: dict[str, Any]
    trials_per_condition: int

    def manipulation(self):
        from rewardrnn.manipulation.spec import Manipulation
        return Manipulation.from_options(**self.options)


@dataclass(frozen=True)
class Sweep:
    """The checked sweep: the base fields, the varied keys in order, the jobs and the
    perturbations run on every trained network."""

    base: dict[str, Any]
    axes: tuple[str, ...]
    jobs: tuple[Job, ...]
    perturbations: tuple[Perturbation, ...] = ()

    @property
    def n_points(self) -> int:
        return sum(len(job.seeds) for job in self.jobs)


def read(path: str | Path, seeds_per_job: int = 1, max_points: int = MAX_SWEEP_POINTS) -> Sweep:
    """The sweep of the file ``path``, every point checked; jobs group up to ``seeds_per_job``
    consecutive seeds of points that differ only by seed. A sweep of more than ``max_points``
    points is refused before any is built."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file {path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"sweep file {path} is {path.stat().st_size / 1e6:,.0f} MB; a sweep file is at most "
                          f"{MAX_FILE_BYTES / 1e6:g} MB")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ConfigError(f"--max-points must be an integer >= 1, got {max_points!r}")
    data = run_files.parse(path, what="sweep file")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"sweep file {path}: unknown section(s) {unknown}; a sweep file has [base], [grid], "
                          f"[[points]] and [[perturbations]]")
    if isinstance(seeds_per_job, bool) or not isinstance(seeds_per_job, int) or seeds_per_job < 1:
        raise ConfigError(f"--seeds-per-job must be an integer >= 1, got {seeds_per_job!r}")
    base = data.get("base", {})
    grid = data.get("grid", {})
    explicit = data.get("points", [])
    if not isinstance(base, dict):
        raise ConfigError(f"sweep file {path}: [base] must be a table of run options")
    if not isinstance(grid, dict):
        raise ConfigError(f"sweep file {path}: [grid] must be a table of option = [values]")
    if not isinstance(explicit, list) or not all(isinstance(p, dict) for p in explicit):
        raise ConfigError(f"sweep file {path}: points must be an array of tables ([[points]])")
    grid = flatten(grid)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep file {path}: grid {key} must be a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"sweep file {path}: grid {key} repeats a value: {values!r}")
    explicit = [flatten(p) for p in explicit]
    overlap = sorted({k for p in explicit for k in p} & set(grid))
    if overlap:
        raise ConfigError(f"sweep file {path}: {overlap} is both a grid axis and a key of [[points]]")
    if not grid and not explicit:
        raise ConfigError(f"sweep file {path}: no points: give a [grid] or [[points]]")
    n_points = math.prod(len(values) for values in grid.values()) * max(1, len(explicit))
    if n_points > max_points:
        raise ConfigError(f"sweep file {path} has {n_points:,} points, more than the {max_points:,} allowed; "
                          f"pass --max-points {n_points} if you mean it")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    points = [{**p, **c} for p in (explicit or [{}]) for c in combos]
    axes = tuple(dict.fromkeys(k for p in points for k in p))
    checked = [_check_point(path, base, point, i) for i, point in enumerate(points)]
    jobs = _jobs(checked, seeds_per_job)
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):  # values that differ only in characters a folder name drops
        jobs = [dataclasses.replace(job, name=f"{i + 1:03d}_{job.name}") for i, job in enumerate(jobs)]
    perturbations = _perturbations(path, data.get("perturbations", []))
    return Sweep(base=base, axes=axes, jobs=tuple(jobs), perturbations=perturbations)


def _perturbations(path: Path, entries) -> tuple[Perturbation, ...]:
    """The ``[[perturbations]]`` of a sweep file, each parsed into a manipulation (so that a bad
    option stops the sweep before any training); names unique."""
    from rewardrnn.manipulation.spec import check_name
    from rewardrnn.perturbations import DEFAULT_TRIALS_PER_CONDITION

    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"sweep file {path}: perturbations must be an array of tables ([[perturbations]])")
    out = []
    for i, entry in enumerate(entries):
        where = f"sweep file {path}: perturbation {i + 1}"
        unknown = sorted(set(entry) - set(PERTURBATION_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; keys: {', '.join(PERTURBATION_KEYS)}")
        options = {}
        for key in ("silence", "cut", "stimulate"):
            value = entry.get(key, [])
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {key} must be a string or a list of strings, got {value!r}")
            options[key] = value
        options["noise"] = entry.get("noise", 0.0)
        options["during"] = entry.get("during")
        options["network"] = entry.get("network", "decision")
        options["seed"] = entry.get("manipulation_seed", 0)
        n = entry.get("trials_per_condition", DEFAULT_TRIALS_PER_CONDITION)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{where}: trials_per_condition must be an integer >= 1, got {n!r}")
        try:
            manipulation = Perturbation("", options, n).manipulation()
            name = check_name(entry["name"]) if "name" in entry else manipulation.folder_name()
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        out.append(Perturbation(name, options, n))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        twice = sorted(n for n in names if names.count(n) > 1)[0]
        raise ConfigError(f"sweep file {path}: two perturbations are named {twice!r}; give each a name")
    return tuple(out)


def describe(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items()) or "the base run"


def _check_point(path: Path, base: dict[str, Any], point: dict[str, Any], index: int):
    """(point, kind, config) of one point: the base with the point's values on top, built into
    its kind's config (which checks every value)."""
    where = f"sweep file {path}: point {index + 1} ({describe(point)})"
    fields = dict(base)
    for key, value in point.items():
        prefix = next((p for p in TABLE_PREFIXES if key.startswith(p)), None)
        if prefix is not None:
            table = dict(fields.get(prefix[:-1], {}))
            table[key[len(prefix):]] = value
            fields[prefix[:-1]] = table
        else:
            fields[key] = value
    task, learner, network = fields.pop("task", None), fields.pop("learner", None), fields.pop("network", None)
    if task is None:
        raise ConfigError(f"{where}: no task (give task in [base] or as an axis)")
    try:
        kind = kind_for(task, learner, network)
        run_files.check_keys(kind, fields)
        config = kind.config_class(task=task, **fields)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    if getattr(config, "n_seeds", 1) != 1:
        raise ConfigError(f"{where}: n_seeds must be 1 in a sweep; sweep seeds as an axis (seed = [1, 2, ...]) and "
                          f"group them with --seeds-per-job")
    return point, kind, config


def _jobs(checked, seeds_per_job: int) -> list[Job]:
    """Group points that differ only by seed into jobs of up to ``seeds_per_job`` consecutive seeds."""
    groups: dict[str, list] = {}
    for point, kind, config in checked:
        rest = {k: v for k, v in point.items() if k != "seed"}
        groups.setdefault(repr(sorted(rest.items(), key=lambda kv: kv[0])), []).append((point, kind, config))
    jobs = []
    for members in groups.values():
        members.sort(key=lambda m: m[2].seed)
        run: list = []
        for member in members:
            if run and (len(run) == seeds_per_job or member[2].seed != run[-1][2].seed + 1):
                jobs.append(_job(run))
                run = []
            run.append(member)
        jobs.append(_job(run))
    return jobs


def _job(members) -> Job:
    point, kind, config = members[0]
    seeds = tuple(m[2].seed for m in members)
    if len(seeds) > 1:
        config = dataclasses.replace(config, n_seeds=len(seeds))
    varied = dict(point)
    return Job(name=folder_name(varied, seeds), varied=varied, seeds=seeds, kind=kind, config=config)


def folder_name(varied: dict[str, Any], seeds: tuple[int, ...]) -> str:
    """A readable, file-safe folder name for a job (``lr-0.004_seed-1`` / ``..._seed-1-4``)."""
    parts = []
    for key, value in varied.items():
        if key == "seed":
            value = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
        short = key.split(".")[-1] if key.startswith(TABLE_PREFIXES) else key
        parts.append(f"{short}-{value}")
    if "seed" not in varied:
        parts.append(f"seed-{seeds[0]}" if len(seeds) == 1 else f"seed-{seeds[0]}-{seeds[-1]}")
    name = "_".join(parts)
    return re.sub(r"[^A-Za-z0-9._+-]+", "", name.replace("/", "-").replace(":", "-"))[:150] or "base"


def read_saved(folder: Path) -> dict:
    """The content of a sweep folder's ``sweep.json``, checked: readable JSON with a list of jobs,
    each a table whose ``name`` is one plain folder name inside ``folder`` (never ``..``, a path
    or a link); a one-line error otherwise."""
    import json

    from rewardrnn.errors import RunFolderError
    from rewardrnn.safe_files import inside

    path = Path(folder) / "sweep.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise RunFolderError(f"{path} is not a rewardrnn sweep ({type(err).__name__})") from None
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list) or not all(isinstance(j, dict) and isinstance(j.get("name"), str) for j in jobs):
        raise RunFolderError(f"{path} is not a rewardrnn sweep (no list of named jobs)")
    for job in jobs:
        if Path(job["name"]).name != job["name"] or job["name"] in ("", ".", ".."):
            raise RunFolderError(f"{path}: job folder {job['name']!r} does not lie inside {folder} "
                                 f"(a job is one plain folder name)")
        inside(folder, job["name"])
    return data


def saved_sweep(folder: Path) -> Sweep:
    """The sweep saved in a sweep folder (``sweep.json``), for its page."""
    from rewardrnn.errors import RunFolderError
    from rewardrnn.training.kinds import BY_NAME

    data = read_saved(folder)
    try:
        jobs = tuple(Job(name=j["name"], varied=j["varied"], seeds=tuple(j["seeds"]), kind=BY_NAME[j["kind"]],
                         config=BY_NAME[j["kind"]].config_class.from_dict(j["config"])) for j in data["jobs"])
        perturbations = tuple(Perturbation(p["name"], p["options"], p["trials_per_condition"])
                              for p in data.get("perturbations", []))
        return Sweep(base=data["base"], axes=tuple(data["axes"]), jobs=jobs, perturbations=perturbations)
    except (KeyError, TypeError, ValueError) as err:
        raise RunFolderError(f"{Path(folder) / 'sweep.json'} is not a rewardrnn sweep ({type(err).__name__}: {err})") from None
