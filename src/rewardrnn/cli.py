"""The command line: ``rewardrnn tasks | train | evaluate | plot | export`` (thin wrappers over
:mod:`rewardrnn.api`). Bad input exits with code 2 and a one-line message, never a traceback."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Optional

import typer

from rewardrnn.errors import ConfigError, RewardRNNError, RunFolderError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Train recurrent networks with reward on cognitive tasks (Song et al. 2017).")


@contextlib.contextmanager
def _clean_errors(trust_code: bool = False):
    """Bad input as one line and exit 2. ``trust_code``: task files loaded within are trusted
    first (``--trust-code``, :mod:`rewardrnn.tasks.trust`)."""
    from rewardrnn.tasks import trust

    try:
        with trust.trusting() if trust_code else contextlib.nullcontext():
            yield
    except RewardRNNError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def _working(what: str):
    """On a terminal, a spinner with the elapsed time while a verb works (``what``: e.g.
    "recording"), removed when it ends; nothing in logs and pipes."""
    from rich.console import Console

    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield
        return
    from rich.progress import Progress as Bars, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Bars(SpinnerColumn(), TextColumn(what), TimeElapsedColumn(), console=console, transient=True) as bars:
        bars.add_task(what, total=None)
        yield


TRUST_HELP = ("trust the task file that the run folder (or run/sweep file) names, after reading it: it is code "
              "(remembered in your list of trusted task files; see `rewardrnn trust`)")


def _trust_code_option():
    return typer.Option(False, "--trust-code", help=TRUST_HELP)


def _trust_named_file(task: str | None) -> None:
    """A task file the user named on the command line is trusted by that act."""
    from rewardrnn.tasks import files, trust

    if files.is_task_file(task):
        path = files.split(task)[0]
        if path.is_file():
            trust.trust(path)


@app.command()
def tasks(task: Optional[str] = typer.Argument(None, help="a task name or file (path/to/file.py:NAME): list what "
                                                "--set can vary in it, with the current values")) -> None:
    """List the tasks, one line each, with the learners that train them; with TASK, the keys of
    its variants (`--set KEY=VALUE`) and their values."""
    from rewardrnn.tasks.episodes import EPISODE_TASKS
    from rewardrnn.tasks.miconi import CONTINUOUS_TASKS
    from rewardrnn.tasks.registry import get_task, list_tasks
    from rewardrnn.tasks.variants import SAMPLER_SYNTAX, settable
    from rewardrnn.training.kinds import learners_for

    if task is not None:
        with _clean_errors():
            if task in CONTINUOUS_TASKS:
                raise ConfigError(f"{task} is one of Miconi's tasks, which have no --set keys (they are not protocols)")
            if task in EPISODE_TASKS:
                import inspect

                typer.echo(f"{task}: {EPISODE_TASKS[task]().summary}\nsettable with --set KEY=VALUE (the task's options):")
                for key, parameter in inspect.signature(EPISODE_TASKS[task]).parameters.items():
                    typer.echo(f"  {key:<28} {parameter.default!r}")
                return
            _trust_named_file(task)
            protocol = get_task(task)
        typer.echo(f"{protocol.name}: {protocol.summary}\nsettable with --set KEY=VALUE (durations: {SAMPLER_SYNTAX}):")
        for key, value in settable(protocol).items():
            typer.echo(f"  {key:<28} {value}")
        return

    def learners(name: str) -> str:
        return " + ".join(learners_for(name))

    for task in list_tasks():
        typer.echo(f"{task.name:<21} {task.summary} [learners: {learners(task.name)}; {task.n_conditions} conditions; "
                   f"stop: {task.criterion.describe()}]")
    for task in CONTINUOUS_TASKS.values():
        typer.echo(f"{task.name:<21} {task.summary} [learners: {learners(task.name)}; {task.n_types} trial types; "
                   f"stop: {task.describe_criterion()}]")
    for name, factory in EPISODE_TASKS.items():
        task = factory()
        typer.echo(f"{name:<21} {task.summary} [learners: {learners(name)}; episodes of {task.n_trials} trials; "
                   f"stop: {task.criterion.describe()}]")
    typer.echo("ngym:<id>             any NeuroGym environment [learners: actor-critic + supervised (its gt) + local; "
               "extra: neurogym]")
    typer.echo("my_env.py:NAME        your own environment: a TrialEnv (gymnasium Env) class or a function returning one "
               "[learners: actor-critic + supervised (a TrialEnv's gt) + local; extra: neurogym]")


@app.command()
def train(
    task: Optional[str] = typer.Argument(None, help="task name (see `rewardrnn tasks`), a task file "
                                         "path/to/file.py:NAME (a Protocol, or an environment class or factory), or "
                                         "ngym:<NeuroGym environment id> [default: the run file's]"),
    out: Path = typer.Option(Path("runs/run"), "--out", "-o", help="run folder"),
    seed: Optional[int] = typer.Option(None, help="first seed; seed s uses PRNGKey(s) [default: 1]"),
    seeds: Optional[int] = typer.Option(None, help="number of seeds trained together: seed .. seed+seeds-1 [default: 1]"),
    dt: Optional[float] = typer.Option(None, help="time step in ms [default: 10]"),
    n_units: Optional[int] = typer.Option(None, "--N", help="units in the decision network [default: the task's, 100 or 150]"),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate of the decision network [default: the task's, 0.004 or 0.002; 3e-4 for --learner local --network rate]"),
    baseline_lr: Optional[float] = typer.Option(None, help="Adam learning rate of the value network [default: as lr; perturbation learner: 0.004]"),
    baseline: Optional[str] = typer.Option(None, help="actor-critic baseline: the value network gru or linear (Song's), "
                                           "or none (raw return), constant, running (beyond the paper) [default: gru]"),
    baseline_constant: Optional[float] = typer.Option(None, help="--baseline constant: its value, reward units [default: 0.5, between correct +1 and error 0]"),
    baseline_rate: Optional[float] = typer.Option(None, help="--baseline running: weight of each update in the running average of the return [default: 0.1]"),
    baseline_per_condition: Optional[bool] = typer.Option(
        None, "--baseline-per-condition/--baseline-pooled", help="--baseline running: one average per condition of the grid [default: pooled]"),
    lesion_value_at: Optional[int] = typer.Option(None, help="actor-critic: remove the baseline (value network) from this update on: a lesion during learning [default: never]"),
    dale: Optional[bool] = typer.Option(None, "--dale/--no-dale", help="80% excitatory / 20% inhibitory decision network with sign-constrained recurrent weights [default: off]"),
    juice_ratio: Optional[float] = typer.Option(None, help="economic task: juice A is worth this many drops of B [default: 2.2]"),
    offers: Optional[str] = typer.Option(None, help="economic task: paper (the paper's offers and criterion) or ratio "
                                         "(offers built from the ratio, every offer checked) [default: paper at 2.2 "
                                         "and 4.1, ratio otherwise]"),
    t0_return: Optional[str] = typer.Option(
        None, help="t=0 policy-gradient term: pyrl (R[0]; learns) or paper (G_0; zero gradient at init) [default: pyrl]"),
    max_updates: Optional[int] = typer.Option(None, help="stop after this many updates, rounded up to the validation period [default: 100000]"),
    n_validation: Optional[int] = typer.Option(None, help="validation trials [default: the task's]"),
    checkfreq: Optional[int] = typer.Option(None, help="updates between validations and checkpoints [default: 50; perturbation learner: trials, 250 (1000 on a native task)]"),
    learner: Optional[str] = typer.Option(None, help="actor-critic (Song et al.), perturbation (Miconi; on Song's tasks the rate network acts), supervised (BPTT on the best action, Song's tasks) or local (an eligibility rule with Song's value network, Song's tasks) [default: actor-critic on Song's tasks, perturbation on Miconi's]"),
    trials: Optional[int] = typer.Option(None, help="perturbation learner: trials per seed at most, in chunks of 250 [default: the paper's]"),
    nonlinearity: Optional[str] = typer.Option(None, help="perturbation learner: S of the trace: cube, signed-square, identity, signed-sqrt [default: cube]"),
    update_form: Optional[str] = typer.Option(None, help="perturbation learner: code (eta |Rbar| (R - Rbar) e) or paper [default: code]"),
    method: Optional[str] = typer.Option(None, help="perturbation learner: hebbian or node-perturbation [default: hebbian]"),
    trial_order: Optional[str] = typer.Option(None, help="perturbation learner: cycle (the original) or random [default: cycle]"),
    value_input: Optional[str] = typer.Option(
        None, help="perturbation learner, value baseline: what the value network reads: rates (the decision network's, Song's) or stimuli (the task's inputs) [default: rates]"),
    reward_baseline: Optional[str] = typer.Option(
        None, help="perturbation learner: trial-type (Miconi's), running, value (a value network, Song's) or none [default: trial-type]"),
    value_readout: Optional[float] = typer.Option(
        None, help="perturbation learner, value baseline: one prediction per trial, read this many ms into it [default: per 10-ms bin, time-resolved]"),
    patience: Optional[int] = typer.Option(None, help="stop a seed as stalled after this many validations without progress, or 10 without any decision; 0: never [default: 40]"),
    entropy_bonus: Optional[float] = typer.Option(None, help="actor-critic: beta of an entropy bonus -beta*H(pi) on "
                                                  "the policy at the steps of the response epoch (the choice), a remedy for "
                                                  "seeds stuck in a deterministic choice (beyond the paper) [default: 0]"),
    restart_stalled: Optional[int] = typer.Option(None, help="start a stalled seed afresh from a new initialisation, at most this many times (beyond the papers) [default: 0]"),
    tau: Optional[float] = typer.Option(None, help="perturbation learner on a native task: time constant of the rate network, ms [default: 100]"),
    choice_threshold: Optional[float] = typer.Option(None, help="perturbation learner on a native task: a choice unit's rate above this takes its action [default: 0.3; 0.5 for --learner local --network rate]"),
    act: Optional[str] = typer.Option(None, help="supervised learner: how the network acts on validation and "
                                      "records: greedy (its most probable action, as supervised networks are read) or "
                                      "sample (its policy, as the reward learners) [default: greedy]"),
    loss: Optional[str] = typer.Option(None, help="supervised learner: cross-entropy on the best action, or mse "
                                       "(PsychRNN's mean squared error of the linear outputs against the one-hot "
                                       "target) [default: cross-entropy]"),
    rule: Optional[str] = typer.Option(None, help="local learner: the eligibility, eprop (the gated unit's own, "
                                       "Bellec et al. 2020) or rflo (a leaky unit's, Murray 2019) [default: eprop]"),
    feedback: Optional[str] = typer.Option(None, help="local learner: the output error reaches the units through "
                                           "random (fixed random weights) or readout (the transposed readout) "
                                           "[default: random]"),
    network: Optional[str] = typer.Option(None, help="local learner: the network it trains, gated (Song et al.'s "
                                          "unit) or rate (Miconi's rate network acting through choice units) "
                                          "[default: gated]"),
    choice_gain: Optional[float] = typer.Option(None, help="local learner, rate network: inverse temperature of the "
                                                "softmax over the choice units' rates and the threshold [default: 10]"),
    batch: Optional[int] = typer.Option(None, help="local learner, rate network: trials per update [default: 10]"),
    track_alignment: Optional[bool] = typer.Option(
        None, "--track-alignment/--no-track-alignment", help="local learner: the cosine of each update with BPTT's "
        "gradient of the same batch, a metric (a BPTT backward pass beside each update: 0.88x the "
        "throughput on rdm-fixed) [default: off]"),
    rho: Optional[float] = typer.Option(None, help="episodes of trials (bandit, reversal, two-step): both networks' "
                                        "initial spectral radius; Song's is 2 [default: 1]"),
    discount: Optional[float] = typer.Option(None, help="episodes of trials (and NeuroGym sessions): discount of the "
                                             "return per trial, in [0, 1]; 1: none [default: the task's, 0.9 (Wang et "
                                             "al. 2018)]"),
    episode_trials: Optional[int] = typer.Option(None, "--episode-trials", help="environments (NeuroGym ids, your env "
                                                 "files): sessions of this many consecutive trials, the network's "
                                                 "state carried over and the return across them (DawTwoStep-v0); "
                                                 "the reward learners [default: 1, each trial afresh]"),
    env_kwargs: Optional[str] = typer.Option(None, "--env-kwargs", help="environments (NeuroGym ids, your env files): a JSON object of the environment's arguments"),
    wrappers: Optional[str] = typer.Option(None, "--wrappers", help="environments: NeuroGym wrappers applied in order, "
                                           "comma-separated: PassAction, PassReward, ReactionTime, Noise, "
                                           "RandomGroundTruth, TrialHistoryV2 [default: none]"),
    settings: Optional[list[str]] = typer.Option(
        None, "--set", help="a task variant, repeatable: KEY=VALUE such as stimulus.duration=uniform(300,700), "
        "conditions.coherence=0,12.8,51.2, rewards.correct=2, tmax_ms=3000 (`rewardrnn tasks TASK` lists the keys)"),
    run_file: Optional[Path] = typer.Option(None, "--config", help="a run file (TOML) with every option; the "
                                            "command line's override it (`rewardrnn config RUN` writes one)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run saved in --out (options default to its saved ones)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace the run saved in --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Train a task to its stop criterion; writes config, metrics and checkpoints to --out.
    A flag that does not apply to the task's learner is refused."""
    from rewardrnn.training.run import train as run_training

    flags = dict(seed=seed, seeds=seeds, dt=dt, N=n_units, lr=lr, baseline_lr=baseline_lr, baseline=baseline,
                 baseline_constant=baseline_constant, baseline_rate=baseline_rate,
                 baseline_per_condition=baseline_per_condition, lesion_value_at=lesion_value_at,
                 dale=dale, juice_ratio=juice_ratio, offers=offers, t0_return=t0_return, max_updates=max_updates,
                 n_validation=n_validation, checkfreq=checkfreq, trials=trials, nonlinearity=nonlinearity,
                 update_form=update_form, method=method, trial_order=trial_order, reward_baseline=reward_baseline,
                 value_readout=value_readout, value_input=value_input, tau=tau, choice_threshold=choice_threshold, patience=patience,
                 restart_stalled=restart_stalled, entropy_bonus=entropy_bonus, act=act, loss=loss,
                 rule=rule, feedback=feedback, track_alignment=track_alignment, choice_gain=choice_gain, batch=batch,
                 rho=rho, discount=discount,
                 episode_trials=episode_trials,
                 env_kwargs=_json_object(env_kwargs),
                 wrappers=None if wrappers is None else tuple(w.strip() for w in wrappers.split(",") if w.strip()))
    with _clean_errors(trust_code):
        if resume and overwrite:
            raise ConfigError("--resume and --overwrite exclude each other: continue the saved run or replace it")
        _trust_named_file(task)
        flags["set"] = _task_settings(settings)
        task, kind, given = _options(task, learner, flags, run_file, network)
        config = _config_for(out, resume, kind, task, given)
        with _interruptible(out):
            result = run_training(config, out, resume=resume, overwrite=overwrite, progress=not quiet)
    summary = result.summary
    for s in summary["seeds"]:
        best = "none yet" if s["best_score"] is None else f"{s['best_score']:.3f}"
        typer.echo(f"seed {s['seed']}: {_reached(s)}; best score {best}")
    if "median_trials_to_criterion" in summary and len(summary["seeds"]) > 1:
        typer.echo(f"median trials to criterion {summary['median_trials_to_criterion']:g} "
                   f"(IQR {summary['iqr'][0]:g}-{summary['iqr'][1]:g}) over {summary['seeds_reached']} seed(s)")
    typer.echo(f"{summary['wall_s']:.1f} s; run folder: {out}")


def _task_settings(assignments: list[str] | None) -> dict | None:
    """``--set KEY=VALUE`` flags as a mapping (None when none was given)."""
    from rewardrnn.tasks.variants import parse_assignment

    if not assignments:
        return None
    return dict(parse_assignment(text) for text in assignments)


def _options(task: str | None, learner: str | None, flags: dict, run_file: Path | None, network: str | None = None):
    """(task, kind, config fields) from the run file (if any) with the command line's flags on
    top; the file's own values are checked on their own first, so that an error names the file."""
    from rewardrnn.training import run_files
    from rewardrnn.training.kinds import kind_for

    file_fields = run_files.read(run_file) if run_file is not None else {}
    file_fields = {k: v for k, v in file_fields.items() if k not in run_files.NOT_TRAINING}
    task = task if task is not None else file_fields.get("task")
    if task is None:
        raise ConfigError("give a task: `rewardrnn train TASK` or `task = \"...\"` in a --config run file")
    learner = learner if learner is not None else file_fields.get("learner")
    network = network if network is not None else file_fields.get("network")
    kind = kind_for(task, learner, network)
    file_fields = {k: v for k, v in file_fields.items() if k not in ("task", "learner", "network")}
    if run_file is not None:
        try:
            run_files.check_keys(kind, file_fields)
            kind.config_class(task=task, **file_fields)
        except ConfigError as error:
            raise ConfigError(f"--config {run_file}: {error}") from None
    return task, kind, run_files.merge(file_fields, kind.config_options(task, flags))


def _json_object(text: str | None) -> dict | None:
    """A JSON object given on the command line (None when not given)."""
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        value = error
    if not isinstance(value, dict):
        with _clean_errors():
            raise ConfigError(f"--env-kwargs must be a JSON object such as '{{\"dt\": 20}}', got {text!r}")
    return value


@contextlib.contextmanager
def _interruptible(out: Path, kept: str | None = None, resume_with: str = "--resume"):
    """Ctrl-C or SIGTERM: say where the last saved state is, exit 130. ``kept`` names what a
    folder of several runs keeps (a sweep's points, an experiment's cells); ``resume_with`` says
    how to continue it."""
    try:
        yield
    except KeyboardInterrupt:
        from rewardrnn.training import run_folder
        if kept is not None:
            typer.echo(f"\ninterrupted: finished {kept} are kept in {out}; continue with {resume_with}", err=True)
        elif (out / run_folder.CHECKPOINT).is_file():
            typer.echo(f"\ninterrupted: the last validation is saved in {out}; continue with --resume", err=True)
        else:
            typer.echo(f"\ninterrupted before the first checkpoint: nothing to resume in {out}", err=True)
        raise typer.Exit(130) from None


def _reached(seed_summary: dict) -> str:
    restarts = f" ({seed_summary['restarts']} restart(s))" if seed_summary.get("restarts") else ""
    if seed_summary["reached_criterion"]:
        return f"criterion after {seed_summary['trials_to_criterion']} trials{restarts}"
    if seed_summary.get("stall_reason"):
        return f"criterion not reached (stalled after {seed_summary['updates']} updates: {seed_summary['stall_reason']})"
    return f"criterion not reached ({seed_summary.get('status', 'stopped')})"


def _config_for(out: Path, resume: bool, kind, task: str, given: dict):
    """The config to run: with --resume, the run folder's saved one with the given options on
    top (differences the run cannot absorb are refused later); otherwise a fresh one."""
    import dataclasses

    from rewardrnn.training import run_folder
    from rewardrnn.training.kinds import cli_flag

    try:
        if resume and (out / run_folder.CONFIG).is_file():
            data, identity = run_folder.read_run_config(out)
            if identity["kind"] != kind.name:
                raise RunFolderError(f"{out} holds a run of kind {identity['kind']} ({data.get('task')}), not {kind.name}: "
                                     f"give its --learner (and --network) to resume it, or choose another --out")
            return dataclasses.replace(kind.config_class.from_dict(data), task=task, **given)
        return kind.config_class(task=task, **given)
    except ConfigError as error:  # name the flag the user typed, not the config field
        message = str(error)
        for flag, field in kind.flags.items():
            if message.startswith(f"{field} "):
                raise ConfigError(cli_flag(flag) + message[len(field):]) from None
        raise


@app.command("config")
def show_config(run: Path = typer.Argument(..., help="run folder"), trust_code: bool = _trust_code_option()) -> None:
    """Print a run's resolved configuration as a run file (TOML): `rewardrnn config RUN > run.toml`,
    then `rewardrnn train --config run.toml` repeats it with identical parameters."""
    from rewardrnn.training.run_files import to_toml
    from rewardrnn.training.run_folder import RunFolder

    with _clean_errors(trust_code):
        text = to_toml(RunFolder(run).resolved)
    typer.echo(text, nl=False)


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="run folder"),
    trials: int = typer.Option(200, "--trials-per-condition", "-n", help="trials per condition"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    dt: Optional[float] = typer.Option(None, help="evaluate at another time step (ms)"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Run the best parameters over every condition; print P(decision), P(correct | decision) per
    condition of the grid (each condition variable a column), then pooled over all variables but
    one ("all")."""
    from rewardrnn import verbs

    with _clean_errors(trust_code):
        with _working(f"evaluating {run}: {trials} trials per condition"):
            table = verbs.evaluate(run, trials_per_condition=trials, seed=seed, dt_ms=dt)
            report, perf = verbs.evaluation_report(run, table)
    typer.echo(report.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo("all: " + "  ".join(f"{name} {value:.3f}" for name, value in perf.items()) + f"  ({len(table)} trials)")
    typer.echo(f"trials written to {run / 'evaluation'}")


@app.command()
def perturb(
    run: Path = typer.Argument(..., help="run folder"),
    silence: Optional[list[str]] = typer.Option(None, "--silence", help="unit group whose rates are held at zero, "
                                                "repeatable: 3,17,42 | 0-9 | all | random:K | readout:K | readout:ACTION:K | "
                                                "dprime:ACTION:K | exc | inh"),
    cut: Optional[list[str]] = typer.Option(None, "--cut", help="connections removed, repeatable: recurrent | input | "
                                            "readout [:FRACTION] | input:CHANNEL | readout:ACTION | FROM->TO | "
                                            "FROM:TO (e.g. exc:inh)"),
    stimulate: Optional[list[str]] = typer.Option(None, "--stimulate", help="GROUP=AMPLITUDE: a current added to "
                                                  "the units' input drive, repeatable"),
    noise: float = typer.Option(0.0, "--noise", help="extra private noise, a variance in the network's var_rec "
                                "convention [default: none]"),
    during: Optional[str] = typer.Option(None, "--during", help="epochs in which the manipulation acts, "
                                         "comma-separated (e.g. stimulus,delay) [default: the whole trial]"),
    trials: int = typer.Option(200, "--trials-per-condition", "-n", help="trials per condition (each of intact "
                               "and perturbed)"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    manipulation_seed: int = typer.Option(0, help="seed of the manipulation's random choices (random:K, cut fractions)"),
    network: str = typer.Option("decision", "--network", help="the network manipulated: decision, or value (the "
                                "actor-critic's value network: behaviour is unchanged, its predictions are "
                                "compared)"),
    name: Optional[str] = typer.Option(None, help="folder under RUN/perturbations [default: from the manipulation]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace another manipulation's results under --name"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Run a trained network under a manipulation (silence, cut, stimulate, noise), beside the
    intact network on the same trials; writes RUN/perturbations/NAME (behaviour of both,
    summary.json, figures). The checkpoint is not touched."""
    from rewardrnn.perturbations import perturb as run_perturbation, pooled_line
    from rewardrnn.manipulation.spec import Manipulation

    with _clean_errors(trust_code):
        manipulation = Manipulation.from_options(silence=silence, cut=cut, stimulate=stimulate, noise=noise,
                                                 during=during, seed=manipulation_seed, network=network)
        summary, out = run_perturbation(run, manipulation, seed=seed, trials_per_condition=trials, name=name,
                                        overwrite=overwrite)
    typer.echo(f"manipulation: {summary['manipulation']['words']}")
    for label in ("intact", "perturbed"):
        typer.echo(pooled_line(summary, label))
    typer.echo(f"written to {out}")


@app.command()
def plot(
    run: Path = typer.Argument(..., help="run folder"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Learning curve and psychometric curve (PNG and SVG) under RUN/figures."""
    from rewardrnn import verbs

    with _clean_errors(trust_code):
        paths = verbs.plot(run, seed=seed)
    for path in paths:
        typer.echo(str(path))


@app.command()
def export(
    run: Path = typer.Argument(..., help="run folder"),
    format: str = typer.Option("npz", "--format", "-f", help="npz, safetensors or nwb (records and weights as "
                               "Neurodata Without Borders; extra: nwb)"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="file to write [default: RUN/export/weights_seedS.FORMAT]"),
    species: Optional[str] = typer.Option(None, help="nwb: the subject's species, a Latin binomial such as "
                                          "'Macaca mulatta' (the animal whose task the network models) [default: none]"),
    experimenter: Optional[list[str]] = typer.Option(None, help="nwb: an experimenter, 'Last, First'; repeatable"),
    institution: Optional[str] = typer.Option(None, help="nwb: the institution"),
    lab: Optional[str] = typer.Option(None, help="nwb: the lab"),
    metadata: Optional[Path] = typer.Option(None, "--metadata", help="nwb: a TOML file (e.g. the run file) whose [nwb] "
                                            "table gives species, experimenter, institution, lab; the options above "
                                            "override it"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Write the trained weights with names, masks and a JSON description of the equations
    (--format nwb: the records too, with the subject and session metadata given)."""
    from rewardrnn.export import export_run

    with _clean_errors(trust_code):
        given = dict(species=species, experimenter=tuple(experimenter or ()), institution=institution, lab=lab)
        nwb_metadata = None
        if metadata is not None or any(v not in (None, ()) for v in given.values()):
            from rewardrnn.nwb import Metadata
            from rewardrnn.training import run_files

            base = Metadata.from_table(run_files.read(metadata, "--metadata").get("nwb", {}), str(metadata)) \
                if metadata is not None else Metadata()
            nwb_metadata = base.merged(**given)
        with _working(f"exporting {run} as {format}"):
            path = export_run(run, format, seed, out, nwb_metadata)
    typer.echo(str(path))


@app.command()
def record(
    run: Path = typer.Argument(..., help="run folder"),
    trials: Optional[int] = typer.Option(None, "--trials-per-condition", "-n",
                                         help="trials per condition [default: the paper's activity runs]"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    table_format: str = typer.Option("csv", "--table-format", help="behaviour table: csv or parquet"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Run the trained network over the condition grid: behaviour table + activity dataset (NetCDF)."""
    from rewardrnn import verbs

    with _clean_errors(trust_code):
        with _working(f"recording {run}"):
            table, path = verbs.record(run, trials, seed, table_format)
    typer.echo(f"{len(table)} trials recorded: {path.parent}/trials.{table_format}, {path}")


@app.command()
def analyze(
    run: Path = typer.Argument(..., help="run folder"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    behaviour_trials: Optional[int] = typer.Option(None, help="trials per condition of the behaviour table "
                                                   "[default: the paper's]"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Every analysis that fits the task: figures (PNG, SVG) and numbers.json under RUN/analysis/seedS."""
    from rewardrnn import verbs

    with _clean_errors(trust_code):
        with _working(f"analysing {run} (records, behaviour, fixed points, figures)"):
            result, out = verbs.analyze(run, seed, behaviour_trials)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{len(result.figures)} figures and numbers.json in {out}")


@app.command()
def fixedpoints(
    run: Path = typer.Argument(..., help="run folder (with records of the seed: `rewardrnn record`)"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    inputs: Optional[list[str]] = typer.Option(None, "--inputs", help="input condition, repeatable: epochs, an "
                                               "epoch name, recorded, zero, trajectory or CHANNEL=value,... "
                                               "[default: epochs, or recorded for tasks without a protocol]"),
    candidates: int = typer.Option(4096, help="candidate states, spread over the input conditions"),
    noise: float = typer.Option(0.0, help="std of Gaussian noise added to the candidates (state units)"),
    max_steps: int = typer.Option(1000, help="most Adam steps of the robust stage"),
    float64: bool = typer.Option(False, "--float64", help="search in double precision (tight tolerances)"),
    fixed_q: Optional[float] = typer.Option(None, help="a point with speed q below this is fixed (q = 1/2 ||F(x)-x||^2, "
                                            "squared state units per step) [default: 1e-10, float32 precision]"),
    slow_q: Optional[float] = typer.Option(None, help="a point with q below this is slow [default: 1e-4]"),
    network: str = typer.Option("decision", help="decision, or value: the actor-critic's value network, driven by "
                                "the decision network at its slowest point of each input condition "
                                "(fixedpoints_value.nc, .json and figures)"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Fixed and slow points (Sussillo & Barak 2013), linearised: RUN/analysis/seedS/fixedpoints.nc,
    fixedpoints.json (per input condition: fixed and slow points, the slowest non-trivial mode,
    selection vectors) and figures. Records the seed first if needed."""
    from rewardrnn import verbs
    from rewardrnn.analysis.fixedpoints import FinderOptions

    with _clean_errors(trust_code):
        with _working(f"searching fixed points of {run} ({candidates} candidates)"):
            summary, path = verbs.fixedpoints(run, seed, inputs, candidates, noise,
                                              FinderOptions(max_steps=max_steps, float64=float64), fixed_q, slow_q,
                                              network)
    tiers = summary["tiers"]
    typer.echo(f"{summary['points']} distinct points from {summary['candidates']} candidates in {summary['wall_s']} s: "
               f"{tiers['fixed']} fixed (q < {tiers['fixed_q']:g}), {tiers['slow']} slow (q < {tiers['slow_q']:g}), "
               f"{tiers['other']} faster; fixed and slow: "
               + ", ".join(f"{k} {v}" for k, v in summary["by_stability"].items() if v))
    for label, c in summary["conditions"].items():
        eig = c.get("slowest_nontrivial_abs_eig")
        line = f"  {label}: {c['n_fixed']} fixed, {c['n_slow']} slow"
        if eig is not None:
            line += (f"; slowest non-trivial |lambda| {eig:.4f} (median), {c['n_modes_near_1']:g} mode(s) within 0.01 of 1, "
                     f"{c['n_trivial_modes']:g} trivial")
        typer.echo(line)
        if c.get("value_output") is not None:
            typer.echo(f"    value output (expected return) {c['value_output']:+.3f} at its slow points (median)")
    typer.echo(f"written: {path} and {path.with_suffix('.json').name}")


@app.command()
def report(
    run: Path = typer.Argument(..., help="run folder (or a sweep's or an experiment's folder)"),
    seed: Optional[int] = typer.Option(None, help="which trained seed (default: the first)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file [default: RUN/report.html]"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """One self-contained HTML page: config, learning curve, key numbers beside the paper's, figures
    (a sweep folder: trials to criterion against each swept option, and the table; an experiment
    folder: the experiment's tables and figures, rebuilt from its cells)."""
    from rewardrnn.reports import build_report

    with _clean_errors(trust_code):
        path = build_report(run, seed, out)
    typer.echo(str(path))


@app.command()
def sweep(
    sweep_file: Path = typer.Argument(..., help="sweep file (TOML): [base] run options, [grid] and/or [[points]]"),
    out: Path = typer.Option(..., "--out", "-o", help="sweep folder: one run folder per job, results.csv, report.html"),
    address: Optional[str] = typer.Option(None, help="a running Ray cluster: auto or ray://HOST:PORT [default: start "
                                          "a local Ray instance on this machine]"),
    workers: Optional[int] = typer.Option(None, help="local instance: jobs at once, each with cores/workers threads "
                                          "[default: one per core]"),
    seeds_per_job: int = typer.Option(1, help="train up to K consecutive seeds of a point as one vectorised job "
                                      "(what pays on a GPU)"),
    gpus_per_job: Optional[float] = typer.Option(None, help="share of a GPU per job [default: 0.25 where the cluster "
                                                 "has GPUs, else 0]"),
    resume: bool = typer.Option(False, "--resume", help="skip finished jobs, resume interrupted ones"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace the sweep saved in --out"),
    max_points: int = typer.Option(10_000, "--max-points", help="refuse a sweep file of more points than this"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    trust_code: bool = _trust_code_option(),
) -> None:
    """Train every point of a sweep file on Ray (a local instance by default): one run folder per
    point, DIR/results.csv, DIR/report.html. Extra: pip install 'rewardrnn\\[sweep]'."""
    from rewardrnn.sweeps import runner, spec

    with _clean_errors(trust_code):
        plan = spec.read(sweep_file, seeds_per_job, max_points)
        with _interruptible(out, kept="points"):
            table = runner.run(plan, sweep_file, out, address=address, resume=resume, overwrite=overwrite,
                               workers=workers, gpus_per_job=gpus_per_job, progress=not quiet)
    failed = int((table["status"] == "failed").sum()) if "status" in table else 0
    reached = int(table["reached"].fillna(False).astype(bool).sum()) if "reached" in table else 0
    typer.echo(f"{len(table)} points: {reached} reached the criterion, {failed} failed; "
               f"table: {out / 'results.csv'}; page: {out / 'report.html'}")


@app.command("trust")
def trust_files(files: list[Path] = typer.Argument(..., help="task files (path/to/file.py) you have read and trust")) -> None:
    """Add task files to your list of trusted task files (their exact content, by SHA-256): a
    verb imports a task file only if you trust it. A colleague's run: copy RUN/task_source.py
    outside the run folder, read it, trust the copy; the run then opens from it."""
    from rewardrnn.tasks import trust

    with _clean_errors():
        for path in files:
            sha = trust.trust(path)
            typer.echo(f"trusted {Path(path).absolute()} (sha256 {sha}) in {trust.store_path()}")


experiment_app = typer.Typer(no_args_is_help=True, help="Experiments beyond one run (each writes a folder of runs).")
app.add_typer(experiment_app, name="experiment")


def _say_results(results, out: Path) -> None:
    """One line per cell of an experiment's results table, then where the table and page are."""
    for r in results.itertuples():
        median = "" if r.reached == 0 else f"; median {r.median_trials:,.0f} (IQR {r.q25_trials:,.0f}-{r.q75_trials:,.0f})"
        typer.echo(f"{r.task:<12} {r.cell:<14} {r.reached}/{r.seeds} seeds at criterion{median}; {r.wall_s:,.0f} s")
    typer.echo(f"table: {out / 'results.csv'}; page: {out / 'report.html'}")


@experiment_app.command("baselines")
def experiment_baselines(
    out: Path = typer.Option(Path("runs/baselines"), "--out", "-o", help="experiment folder (one run folder per cell)"),
    seeds: int = typer.Option(20, help="seeds per cell"),
    seed: int = typer.Option(1, help="first seed"),
    trials: int = typer.Option(5000, help="trial budget per seed"),
    tasks: str = typer.Option("dnms", help="tasks, comma-separated: Miconi's (dnms...) or Song's (rdm-fixed..., where the rate network acts)"),
    baselines: Optional[str] = typer.Option(None, help="baselines, comma-separated [default: Miconi's rule: "
                                            "trial-type,running,value,none; the actor-critic: gru,linear,running,constant,none]"),
    learner: str = typer.Option("perturbation", help="perturbation (Miconi's rule), actor-critic (Song et al.'s; "
                                "tasks: Song's) or local (the local rule with the actor-critic's baselines; tasks: Song's)"),
    max_updates: Optional[int] = typer.Option(None, help="actor-critic, local: updates per cell at most, as for train [default: 100000]"),
    lesion_value_at: Optional[int] = typer.Option(
        None, help="actor-critic, local: add a cell whose value network is removed from this update on (the lesion)"),
    reference: bool = typer.Option(True, "--reference/--no-reference",
                                   help="add the actor-critic on the task's native version (dnms -> dnms-choice)"),
    value_input: Optional[str] = typer.Option(None, help="value baseline: rates or stimuli [default: rates]"),
    value_readout: Optional[float] = typer.Option(
        None, help="value baseline: one prediction read this many ms into the trial [default: per 10-ms bin]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="retrain cells already finished in --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
) -> None:
    """Miconi's rule with each reward baseline (trial-type, running, value, none) against the
    actor-critic: seeds at criterion, trials to criterion, learning curves (the unified model).
    With --learner actor-critic: Song et al.'s actor-critic with each baseline (gru, linear:
    the value network; running, constant, none) and optionally a value-network lesion; with --learner
    local, the same cells for the local rule."""
    from rewardrnn.experiments.baselines import GATED_LEARNERS, BaselinesExperiment, run

    def names(text: str) -> tuple[str, ...]:
        return tuple(name.strip() for name in text.split(",") if name.strip())

    with _clean_errors():
        value_options = {k: v for k, v in (("value_input", value_input), ("value_readout_ms", value_readout))
                         if v is not None}
        if baselines is None:
            baselines = "gru,linear,running,constant,none" if learner in GATED_LEARNERS else \
                "trial-type,running,value,none"
        experiment = BaselinesExperiment(tasks=names(tasks), baselines=names(baselines), seeds=seeds,
                                         first_seed=seed, trials=trials,
                                         reference=reference and learner not in GATED_LEARNERS,
                                         value_options=value_options, learner=learner, max_updates=max_updates,
                                         lesion_value_at=lesion_value_at)
        with _interruptible(out, kept="cells (and the last validation of the cell in progress)",
                            resume_with="the same command (without --overwrite)"):
            results = run(experiment, out, overwrite=overwrite, progress=not quiet)
    _say_results(results, out)


@experiment_app.command("learners")
def experiment_learners(
    out: Path = typer.Option(Path("runs/learners"), "--out", "-o", help="experiment folder (one run folder per cell)"),
    tasks: Optional[str] = typer.Option(None, help="tasks, comma-separated [default: Song et al.'s seven and "
                                        "dnms-choice (dnms)]"),
    learners: str = typer.Option("actor-critic,supervised,perturbation", help="learners, comma-separated: actor-critic, supervised, perturbation, local, local-rate (the local rule on Miconi's rate network)"),
    seeds: int = typer.Option(10, help="seeds per cell"),
    seed: int = typer.Option(1, help="first seed"),
    trials: int = typer.Option(50_000, help="trial budget per seed, the same for every learner (rounded up to whole "
                               "validation periods of the task)"),
    dynamics: bool = typer.Option(True, "--dynamics/--no-dynamics",
                                  help="compare the dynamics of the networks at criterion (fixed points, time "
                                       "constants, participation ratio, DMD similarity)"),
    candidates: int = typer.Option(1024, help="fixed-point candidates per network"),
    record_trials: int = typer.Option(10, help="trials per condition recorded from each network for its dynamics"),
    overwrite: bool = typer.Option(False, "--overwrite", help="retrain cells already finished in --out"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
) -> None:
    """Song et al.'s actor-critic, the supervised learner and Miconi's rule on the same tasks, with
    the same budget of trials per seed: seeds at criterion, trials to criterion, wall seconds, and
    the trained networks' dynamics compared (fixed points, time constants, dimensionality,
    dynamical similarity). Every cell is a normal run folder; `rewardrnn report OUT` rebuilds the page."""
    from rewardrnn.experiments.learners import LearnersExperiment, run

    def names(text: str) -> tuple[str, ...]:
        return tuple(name.strip() for name in text.split(",") if name.strip())

    with _clean_errors():
        options = {} if tasks is None else {"tasks": names(tasks)}
        experiment = LearnersExperiment(learners=names(learners), seeds=seeds, first_seed=seed, trials=trials,
                                        dynamics=dynamics, candidates=candidates, record_trials=record_trials,
                                        **options)
        with _interruptible(out, kept="cells (and the last validation of the cell in progress)",
                            resume_with="the same command (without --overwrite)"):
            results = run(experiment, out, overwrite=overwrite, progress=not quiet)
    _say_results(results, out)


def main() -> None:
    """Console entry point."""
    from rewardrnn import runtime

    runtime.stop_on_sigterm()
    runtime.one_host_device_per_core()
    runtime.enable_compilation_cache()
    app(prog_name="rewardrnn")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
