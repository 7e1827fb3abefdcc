"""The typed, validated configuration of a training run; saved with every run and enough to
repeat it (``TrainConfig.from_dict(json.load(...))``). Defaults: Song et al. 2017 spec §3.6."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from rewardrnn.errors import ConfigError
from rewardrnn.learners.actor_critic import ActorCriticConfig
from rewardrnn.networks.gru import GRUConfig
from rewardrnn.tasks.engine import TaskEnv
from rewardrnn.tasks.registry import get_task

#: How the t = 0 term of the policy gradient is weighted (spec §4.4).
T0_RETURNS = ("pyrl", "paper")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Times in ms; ``None`` means "the task's value" (see :meth:`resolved`).

    ``t0_return``: ``"pyrl"`` uses the immediate reward R[0] in the t = 0 policy-gradient term as
    pyrl's code does; ``"paper"`` uses the full return G_0 as the paper's equations. At the
    paper's initialisation (zero readouts, value bias -1) every trial earns -1 whatever the
    actions, so with ``"paper"`` the gradient is exactly zero and nothing is learned; pyrl's t = 0
    term is what breaks the tie (see docs/architecture.md). ``"pyrl"`` is therefore the default.
    """

    task: str = "rdm-fixed"
    seed: int = 1
    n_seeds: int = 1
    dt_ms: float = 10.0
    # decision (policy) network
    N: int = 100
    p0: float = 0.1
    rho: float = 2.0
    tau_ms: float = 100.0
    var_rec: float = 0.01
    # value (baseline) network
    baseline_N: int = 100
    baseline_p0: float = 1.0
    baseline_rho: float = 2.0
    baseline_var_rec: float = 0.01
    baseline_input_scale: float = 1.0
    # learning
    lr: float = 0.004
    baseline_lr: float = 0.004
    max_grad_norm: float = 1.0
    t0_return: str = "pyrl"
    n_gradient: int | None = None
    # training loop
    n_validation: int | None = None
    checkfreq: int = 50
    max_updates: int = 100_000

    def __post_init__(self) -> None:
        get_task(self.task)  # unknown task -> error listing the known ones
        _check_int(self, "seed", 0)
        _check_int(self, "n_seeds", 1)
        _check_int(self, "N", 1)
        _check_int(self, "baseline_N", 1)
        _check_int(self, "checkfreq", 1)
        _check_int(self, "max_updates", 1)
        for name in ("n_gradient", "n_validation"):
            if getattr(self, name) is not None:
                _check_int(self, name, 1)
        for name in ("dt_ms", "tau_ms", "lr", "baseline_lr", "max_grad_norm", "rho", "baseline_rho",
                     "baseline_input_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        for name in ("var_rec", "baseline_var_rec"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.t0_return not in T0_RETURNS:
            raise ConfigError(f"t0_return must be one of {', '.join(T0_RETURNS)}; got {self.t0_return!r}")
        # Network and task checks (p0, dt against epochs and tau) raise ConfigError too.
        task = get_task(self.task)
        self.policy_config(len(task.inputs), len(task.actions))
        TaskEnv(task, self.dt_ms)
        if self.dt_ms > self.tau_ms:
            raise ConfigError(f"dt={self.dt_ms:g} ms must not exceed tau={self.tau_ms:g} ms (alpha = dt/tau <= 1)")

    # ---- derived -----------------------------------------------------------------------------
    def resolved(self) -> TrainConfig:
        """The config with the task's values filled in: n_gradient = number of conditions,
        n_validation = the task's validation size (spec §5.9)."""
        task = get_task(self.task)
        return dataclasses.replace(
            self,
            n_gradient=self.n_gradient or task.n_conditions,
            n_validation=self.n_validation or task.n_validation,
        )

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.n_seeds))

    def policy_config(self, n_inputs: int, n_actions: int) -> GRUConfig:
        return GRUConfig(n_inputs=n_inputs, n_outputs=n_actions, n_units=self.N, p0=self.p0,
                         rho=self.rho, tau_ms=self.tau_ms, var_rec=self.var_rec)

    def value_config(self, n_actions: int) -> GRUConfig:
        # Input = [policy rates, one-hot action]; the input scale uses the policy N (spec §3.5);
        # the output bias starts at R_ABORTED = -1 (spec §3.3).
        return GRUConfig(n_inputs=self.N + n_actions, n_outputs=1, n_units=self.baseline_N,
                         p0=self.baseline_p0, rho=self.baseline_rho, tau_ms=self.tau_ms,
                         var_rec=self.baseline_var_rec, input_scale=self.baseline_input_scale,
                         input_scale_units=self.N, out_bias=get_task(self.task).rewards.abort)

    def learner_config(self) -> ActorCriticConfig:
        r = self.resolved()
        return ActorCriticConfig(n_gradient=r.n_gradient, lr=self.lr, baseline_lr=self.baseline_lr,
                                 max_grad_norm=self.max_grad_norm, pyrl_t0_return=self.t0_return == "pyrl")

    # ---- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys: {', '.join(sorted(known))}")
        return cls(**data)


#: Keys that may differ between a run folder's config and a resumed run.
RESUMABLE_CHANGES = ("max_updates",)


def _check_int(config: TrainConfig, name: str, minimum: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
