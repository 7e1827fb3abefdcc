"""``rewardrnn report RUN``: one self-contained HTML page per run (figures embedded as PNG data
URIs, no external file, script or server): the configuration, the training summary and
learning curve, the key numbers beside the paper's values, and every analysis figure."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from rewardrnn import safe_files, verbs
from rewardrnn.errors import RunFolderError
from rewardrnn.figures import labels
from rewardrnn.figures.html import STYLE, figure_class, html_table, png_file_uri, png_uri
from rewardrnn.training import run_folder
from rewardrnn.training.run_folder import RunFolder

#: Training numbers the papers give, by task (trials to criterion).
PAPER_TRAINING = {"rdm-fixed": "≈ 7,000 trials (Song et al. 2017 text)",
                  "dnms": "median 843 (IQR 692-1,125) over 20 runs (Miconi 2017 text)"}

def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def _training_rows(summary: dict) -> list[tuple[str, str]]:
    rows = []
    for seed in summary.get("seeds", []):
        reached = seed.get("trials_to_criterion") if seed.get("reached_criterion") else "not reached"
        status = f" ({seed['status']})" if seed.get("status") and not seed.get("reached_criterion") else ""
        rows.append((f"seed {seed['seed']}", f"trials to criterion: {reached}{status}"))
    reached = [s["trials_to_criterion"] for s in summary.get("seeds", []) if s.get("reached_criterion")]
    if len(summary.get("seeds", [])) > 1 and reached and "median_trials_to_criterion" not in summary:
        q1, median, q3 = np.percentile(reached, [25, 50, 75])
        rows.append(("median trials to criterion", f"{median:g} (IQR {q1:g}-{q3:g}), {len(reached)} of "
                                                   f"{len(summary['seeds'])} seeds reached it"))
    if "median_trials_to_criterion" in summary:
        rows.append(("median trials to criterion", labels.number(summary["median_trials_to_criterion"])))
    if "iqr" in summary:
        rows.append(("IQR of trials to criterion", " – ".join(labels.number(v) for v in summary["iqr"])))
    if "wall_s" in summary:
        rows.append(("training time (s)", labels.number(float(summary["wall_s"]))))
    if "criterion" in summary:
        rows.append(("stop criterion", str(summary["criterion"])))
    return rows


def _fixed_points_from_their_file(folder: RunFolder, seed: int, numbers: dict) -> None:
    """The report's fixed-point numbers from ``fixedpoints.json``, the file written with the
    fixed-point figures (by ``analyze`` or by a later ``rewardrnn fixedpoints``, which replaces
    both), so that the table and the figures count the same points."""
    path = folder.derived_path("analysis", f"seed{seed}", "fixedpoints.json")
    if not safe_files.regular_file_inside(folder.path, path):
        return
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return
    if not isinstance(saved, dict) or saved.get("run_id") != folder.identity["run_id"] or "tiers" not in saved:
        return
    numbers.setdefault("numbers", {})["fixed_points"] = {k: saved[k] for k in ("candidates", "points", "tiers",
                                                                                "by_stability", "wall_s") if k in saved}


def _learning_caption(folder: RunFolder) -> str:
    """The learning curve's caption, in the words of the run's kind."""
    if folder.kind.family == "rate/miconi":
        return "Miconi's rule: the trial error (mean absolute error of the output) against training trials."
    if folder.kind.family == "gated/neurogym":
        return ("Validation performance (NeuroGym's trial performance, the environment's own measure) against "
                "training trials; the dashed line is the target.")
    return ("Validation P(decision) and P(correct | decision) (the stop criterion's measures, on fresh trials with "
            "the stochastic policy) against training trials; the dashed line is the criterion's accuracy.")


#: (title, caption) of the value network's fixed-point figures (``rewardrnn fixedpoints --network value``).
VALUE_FIXED_POINT_FIGURES = {
    "fixedpoints_value_pca": (
        "Value network: fixed and slow points",
        "The value network's fixed and slow points over the first two principal components of its recorded rates "
        "(grey: the recorded trials), per input condition (the decision network held at its own slowest point of "
        "that condition, the action FIXATE), the slowest mode drawn at each point."),
    "fixedpoints_value_spectra": (
        "Value network: spectra",
        "Eigenvalue moduli |λ| of the value network's linearised map at its points, per input condition (< 1 "
        "decays, 1 holds, > 1 grows per step); silent units' own leaks greyed."),
}


def _value_fixed_point_parts(folder: RunFolder, seed: int) -> list[str]:
    """The value network's fixed points of ``seed`` (``rewardrnn fixedpoints --network value``,
    ``fixedpoints_value.json`` and its figures): per input condition, the counts by tier, the
    slowest non-trivial mode and the prediction V at the points; nothing when it was not run."""
    from rewardrnn.figures import labels

    analysis_dir = folder.derived_path("analysis", f"seed{seed}")
    path = analysis_dir / "fixedpoints_value.json"
    if not safe_files.regular_file_inside(folder.path, path):
        return []
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict) or saved.get("run_id") != folder.identity["run_id"]:
            return []
        # a condition without points has its counts only
        rows = [(html.escape(str(name)), labels.number(c["n_fixed"]), labels.number(c["n_slow"]),
                 _eigenvalue(c.get("slowest_nontrivial_abs_eig")), labels.number(c.get("n_modes_near_1")),
                 labels.number(c.get("value_output")))
                for name, c in saved["conditions"].items()]
        distance = saved.get("distance_from_recorded", {})
        tiers = saved["tiers"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return []
    parts = ["<h2>The value network's fixed points</h2>",
             f"<p>{labels.number(saved.get('points'))} distinct points from {labels.number(saved.get('candidates'))} "
             f"candidates (<code>rewardrnn fixedpoints --network value</code>); fixed: q &lt; {tiers['fixed_q']:g}, "
             f"slow: q &lt; {tiers['slow_q']:g} (q = ½‖F(x*, u) − x*‖², squared state units per step). "
             "Each input condition holds the decision network at its own slowest point of that condition and the "
             "action FIXATE.",
             (f" The points lie at a median ‖rates‖ of {labels.number(distance['points_rate_norm_median'])} against "
              f"{labels.number(distance['recorded_rate_norm_median'])} in the recorded trials.</p>"
              if {"points_rate_norm_median", "recorded_rate_norm_median"} <= set(distance) else "</p>"),
             html_table(rows, ("input condition", "fixed", "slow", "slowest non-trivial |λ| (median)",
                               "modes within 0.01 of 1 (median)", "V at the points (reward units, median)"),
                        escape=False),
             "<div class='figures'>"]
    for name, (title, caption) in VALUE_FIXED_POINT_FIGURES.items():
        png = safe_files.inside(analysis_dir, f"{name}.png")
        if safe_files.regular_file_inside(folder.path, png):
            parts.append(f"<figure{figure_class(png)}><img alt='{name}' src='{png_file_uri(png)}'>"
                         f"<figcaption><b>{html.escape(title)}.</b> {html.escape(caption)}</figcaption>"
                         "</figure>")
    return parts + ["</div>"]


def _eigenvalue(value) -> str:
    """|λ| with the four decimals that tell a slow mode (0.9998) from a held one (1.0000)."""
    return f"{value:.4f}" if isinstance(value, (int, float)) else "–"


def _perturbation_parts(folder: RunFolder, seed: int) -> list[str]:
    """The run's perturbations of ``seed`` (``rewardrnn perturb``): per network manipulated (the
    decision network, the value network), a table of intact against perturbed numbers in that
    network's measures, then the figures; nothing when there are none."""
    from rewardrnn.figures.perturbation import SONG_MEASURES
    from rewardrnn.perturbations import FOLDER, number_text

    root = folder.derived_path(FOLDER)
    if not root.is_dir():
        return []
    tables: dict[tuple, list] = {}  # (network, measures) -> rows
    figures = []
    for sub in sorted(root.iterdir()):
        if sub.is_symlink() or not sub.is_dir():  # a linked folder is never read
            continue
        summary_path = sub / "summary.json"
        if not safe_files.regular_file_inside(folder.path, summary_path):
            continue
        try:
            summary = json.loads(summary_path.read_text())
            if summary.get("run_id") != folder.identity["run_id"] or summary.get("seed") != seed:
                continue
            intact, perturbed, diff = summary["intact"], summary["perturbed"], summary["difference"]
            words = str(summary["manipulation"]["words"])
            # the measures of the run kind (a summary from before they were named: Song's two)
            measures = tuple(dict(summary.get("measures") or {k: w for k, w, _ in SONG_MEASURES}).items())
            network = str(summary.get("network", "decision"))
            cells = [f"{number_text(intact.get(k))} → {number_text(perturbed.get(k))}" for k, _ in measures]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue
        shift = f"{diff['psychometric_mu']:+.2f}" if "psychometric_mu" in diff else ""
        tables.setdefault((network, measures), []).append((html.escape(sub.name), html.escape(words), *cells, shift))
        for name in ("psychometric", "performance"):
            png = sub / f"{name}.png"
            if safe_files.regular_file_inside(folder.path, png):
                figures.append(f"<figure{figure_class(png)}><img alt='{html.escape(sub.name)} {name}' src='{png_file_uri(png)}'>"
                               f"<figcaption><b>{html.escape(words)}.</b> Intact (black) and perturbed (red) on "
                               f"the same trials.</figcaption></figure>")
    if not tables:
        return []
    parts = ["<h2>Perturbations</h2><p>Each manipulation run beside the intact network on the same trials "
             "(<code>rewardrnn perturb</code>); intact → perturbed.</p>"]
    for (network, measures), rows in tables.items():
        header = ("perturbation", "manipulation", *(html.escape(str(w)) for _, w in measures),
                  "shift of μ (stimulus units)")
        if not any(row[-1] for row in rows):  # no psychometric curve in this run kind
            header, rows = header[:-1], [row[:-1] for row in rows]
        if len(tables) > 1:
            parts.append(f"<h3>{html.escape(network)} network</h3>")
        parts.append(html_table(rows, header, escape=False))
    return parts + ["<div class='figures'>", *figures, "</div>"]


def _sweep_report(folder: Path, out: str | Path | None) -> Path:
    """The page of a sweep folder, from its saved jobs and results table."""
    import pandas as pd

    from rewardrnn.sweeps import results
    from rewardrnn.sweeps.spec import saved_sweep

    sweep = saved_sweep(folder)
    return _copied(results.write_page(folder, sweep, pd.read_csv(folder / results.RESULTS)), out)


def _experiment_report(folder: Path, name: str, out: str | Path | None) -> Path:
    """The page of an experiment folder, rebuilt from its cells (nothing trained)."""
    from rewardrnn.experiments import rebuild_page

    return _copied(rebuild_page(folder, name), out)


def _copied(page: Path, out: str | Path | None) -> Path:
    """``page``, copied to ``out`` when another file is asked for."""
    if out is not None and Path(out).resolve() != page.resolve():
        run_folder.check_writable_folder(Path(out).parent, "--out folder")
        run_folder.atomic_write_bytes(Path(out), lambda f: f.write(page.read_bytes()))
        return Path(out)
    return page


def build_report(run: str | Path, seed: int | None = None, out: str | Path | None = None) -> Path:
    """Write the report of ``run`` (analysing it first if needed) to ``out`` (default
    ``RUN/report.html``); returns its path. A sweep folder gets the sweep's page, an experiment
    folder (``rewardrnn experiment ...``) the experiment's."""
    from rewardrnn.experiments.cells import saved_experiment_name

    if not (Path(run) / run_folder.CONFIG).is_file():
        if (Path(run) / "sweep.json").is_file():
            return _sweep_report(Path(run), out)
        name = saved_experiment_name(Path(run))
        if name is not None:
            return _experiment_report(Path(run), name, out)
    folder = RunFolder(run)
    run, config = folder.path, folder.config
    _, s = folder.seed_index(seed)
    path = Path(out) if out is not None else folder.derived_path("report.html")
    if out is not None:
        run_folder.check_writable_folder(path.parent, "--out folder")
    if path.resolve().parent == run.resolve() and path.name in run_folder.RUN_FILES:
        raise RunFolderError(f"--out {path} would replace the run's own {path.name}; choose another file")
    analysis_dir = folder.derived_path("analysis", f"seed{s}")
    numbers_path = analysis_dir / "numbers.json"
    if not numbers_path.is_file() or json.loads(numbers_path.read_text()).get("run_id") != folder.identity["run_id"]:
        verbs.analyze(run, seed=s)
    numbers = verbs.read_numbers(run, s)
    _fixed_points_from_their_file(folder, s, numbers)
    summary = folder.summary()
    resolved = summary.get("resolved_config") or folder.resolved.to_dict()

    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>rewardrnn report: "
             f"{html.escape(config.task)}</title><style>{STYLE}</style></head><body>",
             f"<h1>rewardrnn · {html.escape(config.task)} · seed {s}</h1>",
             f"<p>Run folder <code>{html.escape(str(run.resolve()))}</code>.</p>",
             "<h2>Training</h2>"]
    rows = _training_rows(summary)
    if config.task in PAPER_TRAINING:
        rows.append(("paper", PAPER_TRAINING[config.task]))
    parts.append(html_table(rows, ("", "value")))
    learning_fig = verbs.adapter(folder).learning_figure(folder)
    learning = png_uri(learning_fig) if learning_fig is not None else None
    if learning:
        parts.append(f"<figure{figure_class(learning)}><img alt='learning curve' src='{learning}'><figcaption><b>Learning curve.</b> "
                     f"{html.escape(_learning_caption(folder))}</figcaption></figure>")
    for warning in numbers.get("warnings", []):
        parts.append(f"<p class='warning'><b>Warning:</b> {html.escape(warning)}.</p>")
    parts.append("<h2>Key numbers</h2>")
    if config.to_dict().get("task_settings"):
        parts.append("<p>This run trains a variant of the task (<code>task_settings</code> below): the paper's "
                     "numbers are those of the original task.</p>")
    parts.append(html_table(labels.number_rows(numbers["numbers"], numbers.get("paper", {})),
                            ("analysis", "this network", "paper"), escape=False))
    parts.append("<h2>Figures</h2><div class='figures'>")
    for name in numbers.get("figures", []):
        png = safe_files.inside(analysis_dir, f"{name}.png")  # a link is refused: nothing from outside is embedded
        if safe_files.regular_file_inside(run, png):
            parts.append(f"<figure{figure_class(png)}><img alt='{html.escape(name)}' src='{png_file_uri(png)}'>"
                         f"<figcaption><b>{html.escape(labels.label(name))}.</b> "
                         f"{html.escape(labels.caption(name))}</figcaption></figure>")
    parts.append("</div>")
    parts.extend(_value_fixed_point_parts(folder, s))
    parts.extend(_perturbation_parts(folder, s))
    parts.append("<h2>Configuration</h2>")
    parts.append(html_table([(k, _short(v)) for k, v in resolved.items()], ("field", "value")))
    parts.append("</body></html>")
    safe_files.atomic_write_text(path, "\n".join(parts))
    return path
