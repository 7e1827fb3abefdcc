"""A newcomer's first contact: `import rewardrnn` and `rewardrnn --help` answer at once (no JAX,
matplotlib, pandas or xarray imported for them), the help text is printed whole, and numbers
in figures keep their precision."""

import subprocess
import sys

import pytest

import rewardrnn
from rewardrnn.figures.psychometric import _value

HEAVY = ("jax", "matplotlib", "pandas", "xarray", "scipy")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_importing_the_package_loads_nothing_heavy():
    assert loaded_after("import rewardrnn") == set()


def test_the_command_lines_help_loads_nothing_heavy():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom rewardrnn.cli import app\n"
            "for args in (['--help'], ['train', '--help'], ['perturb', '--help']):\n"
            "    assert CliRunner().invoke(app, args).exit_code == 0")
    assert loaded_after(code) == set()


def test_listing_the_tasks_loads_nothing_heavy():
    """`rewardrnn tasks` reads the protocols and the registry of run kinds, neither of which
    needs JAX until a task is compiled (rewardrnn.deferred)."""
    code = ("from typer.testing import CliRunner\nfrom rewardrnn.cli import app\n"
            "result = CliRunner().invoke(app, ['tasks'])\nassert result.exit_code == 0, result.output\n"
            "assert 'rdm-fixed' in result.output and 'dnms' in result.output and 'bandit' in result.output")
    assert loaded_after(code) == set()


def test_a_deferred_module_imports_on_first_use():
    import jax.numpy

    from rewardrnn.deferred import DeferredModule

    deferred = DeferredModule("jax.numpy")
    assert "not imported yet" in repr(deferred)
    assert deferred.where is jax.numpy.where and "not imported" not in repr(deferred)
    with pytest.raises(AttributeError):
        deferred.no_such_function  # noqa: B018
    import pickle

    assert pickle.loads(pickle.dumps(DeferredModule("math"))).sqrt(9.0) == 3.0  # no recursion while unpickling


def test_the_public_names_resolve_on_first_use():
    assert set(rewardrnn.__all__) <= set(dir(rewardrnn))
    assert rewardrnn.train.__module__ == "rewardrnn.api" and callable(rewardrnn.perturb)
    assert rewardrnn.report.__name__ == "build_report"
    from rewardrnn import tasks, training

    assert tasks.TaskEnv.__module__ == "rewardrnn.tasks.engine" and training.train.__module__ == "rewardrnn.training.run"
    assert {"TaskEnv", "get_task"} <= set(dir(tasks))
    with pytest.raises(AttributeError, match="has no attribute 'trian'"):
        rewardrnn.trian  # noqa: B018


def test_the_help_keeps_the_extras_brackets():
    from typer.testing import CliRunner

    from rewardrnn.cli import app

    result = CliRunner().invoke(app, ["sweep", "--help"], terminal_width=200)
    assert "rewardrnn[sweep]" in result.output


@pytest.mark.parametrize("value, se, text", [(-0.08123, 0.00412, "-0.0812 ± 0.0041"), (2.106, 0.77, "2.11 ± 0.77"),
                                             (12.34, 3.1, "12.3 ± 3.1"), (1.0, float("nan"), "1")])
def test_a_small_standard_error_is_not_printed_as_zero(value, se, text):
    assert _value(value, se) == text
