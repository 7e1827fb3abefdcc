"""``rewardrnn export RUN --format nwb``: one seed's records as a Neurodata Without Borders file
(pynwb; optional extra ``pip install rewardrnn[nwb]``), for the tools of the field (NWB widgets,
DANDI, nwbinspector) to read a trained network like a recorded session.

What the file holds:

* **trials** (``nwbfile.trials``): one row per recorded trial, the trials laid end to end in
  time (trial ``i`` starts where trial ``i-1`` ended; ``start_time``/``stop_time`` in s). Columns:
  the condition variables, epoch durations and onsets (ms from trial start), ``decision``,
  ``choice`` (action name, empty without one), ``correct``, ``choice_time_ms``,
  ``response_time_ms`` (choice time minus the response epoch's onset) and ``reward``.
* **processing/network**: time series over the executed steps of every trial, in the same time
  base (``rate`` = 1 / dt): ``inputs`` (time x input channel), ``action_probabilities`` (time x
  action), ``decision_rates`` (time x unit), ``value_rates`` (time x value unit, when the value
  network has units), ``value_output`` (the value network's prediction of the return to go),
  ``step_reward``, ``action_taken`` (Miconi's runs: ``rates``, ``inputs``, ``output``); and the
  ``weights`` table: every trained array (name, shape,
  values flattened row-major), the arrays of ``rewardrnn export``.
* ``experiment_description``: the network's equations, units and configuration (JSON), the same
  description as the ``.npz`` export's.

* **subject and session metadata** (:class:`Metadata`; ``rewardrnn export --species ...
  --experimenter ... --institution ... --lab ...`` or the ``[nwb]`` table of a TOML file,
  ``--metadata FILE``): DANDI asks for the subject's species, the experimenter and the
  institution, which a simulated network does not have by itself; given, the file passes
  ``nwbinspector --config dandi`` with no CRITICAL finding and no BEST_PRACTICE_VIOLATION.
  Defaults, describing the model: subject id = run id and seed, sex ``"O"`` (other), date of birth
  = the run's start (its initialisation), no species, experimenter or institution.

The records of the seed are made first (``rewardrnn record``'s defaults) when missing or stale.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rewardrnn.errors import ConfigError
from rewardrnn.version import __version__

#: Names, units and descriptions of the activity variables of the actor-critic's records; every
#: other (trial, time, ...) variable of a dataset (Miconi's ``output``...) keeps its own name and
#: description.
SERIES = {
    "inputs": ("inputs", "a.u.", "the input the network had received by each step (0 at a trial's first step)"),
    "action_prob": ("action_probabilities", "probability", "the policy softmax(W_out r + b_out) over the actions"),
    "rates": ("decision_rates", "a.u.", "decision-network rates r = max(0, x), dimensionless"),
    "value_rates": ("value_rates", "a.u.", "value-network rates r = max(0, x), dimensionless"),
    "value": ("value_output", "reward", "the value network's prediction of the return to go"),
    "step_reward": ("step_reward", "reward", "the reward of each step (discounted as in training)"),
    "action_taken": ("action_taken", "index", "the sampled action's index (see the actions of the description)"),
}
#: The same for the records of Miconi's rule on his tasks (a rate network read by one neuron).
MICONI_SERIES = {
    "rates": ("rates", "a.u.", "rates r = tanh(x) of the network (E/I network: clip(x + 2, 0, 20))"),
    "inputs": ("inputs", "a.u.", "the task's inputs"),
    "output": ("output", "a.u.", "the output neuron's rate, the network's response"),
}


@dataclass(frozen=True)
class Metadata:
    """The subject and session metadata of an NWB file that the user gives. ``species``: a Latin
    binomial (``"Macaca mulatta"``, the animal the task was run with) or an NCBI taxonomy URL;
    ``experimenter``: names as ``"Last, First"``; ``institution``, ``lab``: free text."""

    species: str | None = None
    experimenter: tuple[str, ...] = ()
    institution: str | None = None
    lab: str | None = None

    def __post_init__(self) -> None:
        for name in ("species", "institution", "lab"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise ConfigError(f"NWB {name} must be a non-empty text, got {value!r}")
        experimenter = (self.experimenter,) if isinstance(self.experimenter, str) else self.experimenter
        if not isinstance(experimenter, (tuple, list)) or not all(isinstance(e, str) and e.strip() for e in experimenter):
            raise ConfigError(f"NWB experimenter must be a list of names such as \"Last, First\", got {self.experimenter!r}")
        object.__setattr__(self, "experimenter", tuple(experimenter))
        species = self.species
        if species is not None and not (_BINOMIAL.match(species) or species.startswith(_NCBI)):
            raise ConfigError(f"NWB species {species!r} must be a Latin binomial (e.g. 'Macaca mulatta') or an NCBI "
                              f"taxonomy URL ({_NCBI}...)")

    @classmethod
    def from_table(cls, table: Any, where: str) -> Metadata:
        """From the ``[nwb]`` table of a TOML file (``where`` names it in errors)."""
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [nwb] must be a table of {', '.join(f.name for f in fields(cls))}")
        unknown = sorted(set(table) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{where}: unknown [nwb] key(s) {unknown}; known: {', '.join(f.name for f in fields(cls))}")
        return cls(**table)

    def merged(self, **given: Any) -> Metadata:
        """These values with the ones given (not None, not empty) on top."""
        return Metadata(**{f.name: given[f.name] if given.get(f.name) not in (None, (), []) else getattr(self, f.name)
                           for f in fields(self)})


_BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+( [a-z]+)?$")
_NCBI = "http://purl.obolibrary.org/obo/NCBITaxon_"
#: Behaviour columns that are not trial variables of the NWB trials table.
SKIP_COLUMNS = ("trial",)


def write(folder, seed: int, ds, description: dict, arrays: dict[str, np.ndarray], path: Path,
          metadata: Metadata | None = None) -> None:
    """Write the NWB file of ``seed`` of the run ``folder`` from its activity dataset ``ds``,
    its export ``description`` and weight ``arrays`` to ``path`` (atomically), with the subject and
    session ``metadata`` the user gave."""
    metadata = metadata or Metadata()
    try:
        from hdmf.common import DynamicTable, VectorData, VectorIndex
        from pynwb import NWBHDF5IO, NWBFile, TimeSeries
        from pynwb.file import Subject
    except ImportError:
        raise ConfigError("--format nwb needs pynwb: pip install 'rewardrnn[nwb]'") from None

    dt_s = float(ds["time"].values[1] - ds["time"].values[0]) / 1000.0
    valid = ds["valid"].values.astype(bool) if "valid" in ds else np.ones((ds.sizes["trial"], ds.sizes["time"]), bool)
    lengths = valid.sum(1)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) * dt_s
    created = datetime.datetime.strptime(folder.identity["created"], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    nwbfile = NWBFile(
        session_description=f"a recurrent network trained with reward (rewardrnn {description['learner']}) on "
                            f"the task {ds.attrs.get('task', folder.task)}, seed {seed}, simulated over the task's "
                            f"conditions",
        identifier=f"{folder.identity['run_id']}-seed{seed}", session_start_time=created,
        experiment_description=json.dumps(description), source_script=f"rewardrnn {__version__}",
        source_script_file_name="rewardrnn", keywords=["recurrent neural network", "reinforcement learning"],
        experimenter=list(metadata.experimenter) or None, institution=metadata.institution, lab=metadata.lab,
        subject=Subject(subject_id=f"{folder.identity['run_id']}-seed{seed}",
                        description=f"a simulated recurrent neural network (rewardrnn run {folder.identity['run_id']}, "
                                    f"seed {seed}); not an animal: born at its initialisation, the run's start"
                                    + ("; species: the animal whose task it models" if metadata.species else ""),
                        date_of_birth=created, sex="O", species=metadata.species))

    table = _trial_table(ds)
    for name, column in table.items():
        nwbfile.add_trial_column(name=name, description=_column_description(name))
    for i in range(len(lengths)):
        nwbfile.add_trial(start_time=float(starts[i]), stop_time=float(starts[i] + lengths[i] * dt_s),
                          **{name: column[i] for name, column in table.items()})

    module = nwbfile.create_processing_module(name="network", description="the trained network's activity and "
                                              "weights (rewardrnn); time base: the trials laid end to end")
    for var in ds.data_vars:
        if ds[var].dims[:2] != ("trial", "time") or var == "valid":
            continue
        known = MICONI_SERIES if "output_unit" in description else SERIES
        name, unit, text = known.get(var, (var, "a.u.", var.replace("_", " ")))
        text = ds[var].attrs.get("description", text)  # the records' own words (Miconi's rates are tanh(x))
        data = np.asarray(ds[var].values)[valid]  # (executed steps, ...) in trial order
        if data.dtype.kind == "f":
            data = data.astype(np.float32)
        columns = [d for d in ds[var].dims[2:] if d in ("input", "action")]
        labels = f" Columns: {', '.join(map(str, ds[columns[0]].values))}." if columns else ""
        module.add(TimeSeries(name=name, data=data, unit=unit, starting_time=0.0, rate=1.0 / dt_s,
                              description=text + labels, comments=f"dt = {dt_s * 1000:g} ms"))
    names = sorted(arrays)
    flat = [np.asarray(arrays[n], np.float32).ravel() for n in names]
    values = VectorData(name="values", description="the array's values, flattened row-major (C order)",
                        data=np.concatenate(flat) if flat else np.zeros(0, np.float32))
    index = VectorIndex(name="values_index", data=np.cumsum([len(f) for f in flat]).tolist(), target=values)
    weights = DynamicTable(name="weights", description="every trained array (rewardrnn export's names); reshape "
                           "values to shape", columns=[
                               VectorData(name="array", description="the array's name", data=names),
                               VectorData(name="shape", description="the array's shape, e.g. 100x3",
                                          data=["x".join(map(str, np.shape(arrays[n]))) or "scalar" for n in names]),
                               values, index])
    module.add(weights)

    import io

    import h5py

    from rewardrnn.safe_files import atomic_write_bytes

    image = io.BytesIO()  # built in memory, written in one go: a full disk is one clean error
    with h5py.File(image, "w") as h5, NWBHDF5IO(file=h5, mode="w") as nwb_io:
        nwb_io.write(nwbfile)
    atomic_write_bytes(path, lambda f: f.write(image.getbuffer()))


def _trial_table(ds) -> dict[str, list]:
    """The trials' behaviour columns (the dataset's trial coordinates), as NWB-friendly lists."""
    table = {}
    for name in ds.coords:
        coord = ds.coords[name]
        if coord.dims != ("trial",) or name in SKIP_COLUMNS:
            continue
        values = coord.values
        if values.dtype.kind in "OUS":
            table[name] = ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in values]
        elif values.dtype.kind == "b":
            table[name] = [bool(v) for v in values]
        else:
            table[name] = [float(v) for v in values]
    if "choice_time_ms" in table and "response_onset_ms" in table:
        table["response_time_ms"] = [c - r for c, r in zip(table["choice_time_ms"], table["response_onset_ms"])]
    return table


def _column_description(name: str) -> str:
    if name.endswith("_onset_ms"):
        return f"onset of the {name[:-9]} epoch, ms from the trial's start"
    if name.endswith("_ms"):
        return f"{name[:-3].replace('_', ' ')}, ms" + (" (choice time minus the response epoch's onset)"
                                                        if name == "response_time_ms" else "")
    return {"condition": "index of the trial's condition in the task's condition grid",
            "decision": "the trial ended with a choice that counts as a decision",
            "choice": "the chosen action's name (empty without a choice)",
            "correct": "the choice was correct", "reward": "the trial's reward"}.get(
        name, f"the trial's {name.replace('_', ' ')} (a condition or task variable)")
