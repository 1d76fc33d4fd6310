"""Settings pass down as arguments, not through the environment, and
``eosr train ntl_sr`` follows notebook 08's recipe step by step."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest
import torch

from helpers.apps import cli, jobs
from helpers.core import config, distributed
from helpers.data import synthetic
from helpers.models import ntl_sr
from helpers.records import reproduce, results


@pytest.fixture(scope="module")
def smoke_paths():
    """The smoke sample scene (built once per data folder)."""
    return synthetic.ensure_sample("smoke", verbose=False)


def test_eosr_train_ntl_sr_standardises_the_guidance_on_the_training_patches(
    smoke_paths, tmp_path, monkeypatch
):
    """Notebook 08's recipe (``recipes.night_lights.build``) calls ``ntl_sr.fit_guide_stats``
    before training; the job once did not, and scored ~2 dB lower. The job's model carries them."""
    seen = {}

    def fake_fit(model, loader, *args, **kwargs):  # stop before training: look at the model
        seen["mean"], seen["std"] = model.guide_mean.clone(), model.guide_std.clone()
        seen["samples"] = loader.dataset.samples
        return types.SimpleNamespace(epochs_done=0, epoch=[])

    monkeypatch.setattr(jobs.train, "fit", fake_fit)
    monkeypatch.setattr(jobs.distributed, "is_main", lambda: False)  # skip the scoring
    settings = config.settings(jobs.NOTEBOOK["ntl_sr"], "smoke")
    job = jobs.Job(
        "ntl_sr", "smoke", settings, 1, settings["batch"], 0, torch.device("cpu"), smoke_paths,
        tmp_path / "checkpoint.pt", progress=False,
    )  # fmt: skip
    jobs._ntl_sr(job)
    expected = ntl_sr.fit_guide_stats(ntl_sr.build(width=settings["width"]), seen["samples"])
    assert not torch.equal(seen["mean"], torch.zeros_like(seen["mean"]))  # fitted, not identity
    assert torch.allclose(seen["mean"], expected.guide_mean)
    assert torch.allclose(seen["std"], expected.guide_std)


def _history() -> types.SimpleNamespace:
    """What a trainer returns, as far as ``jobs._record`` reads it."""
    return types.SimpleNamespace(
        epochs_done=1, stop_reason=None, capped=False, train_loss=[1.0], precision="fp32"
    )


def test_a_job_passes_its_folders_down_and_leaves_the_environment_alone(
    smoke_paths, tmp_path, monkeypatch
):
    """``--data`` and ``--out`` reach the sample scene, the checkpoint and the record as
    arguments; ``EOSR_DATA`` (pointing elsewhere) is not used and nothing is written to it."""
    monkeypatch.setenv("EOSR_DATA", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    before, seen = dict(os.environ), {}

    def fake(job):
        seen["job"] = job
        return {"iou": 0.5}, _history()

    monkeypatch.setitem(jobs.TRAINERS, "unet", fake)
    out = tmp_path / "run"
    jobs.run("unet", "smoke", data=smoke_paths.root.parents[1], out=out, progress=False)
    assert dict(os.environ) == before
    assert seen["job"].paths.root == smoke_paths.root
    assert seen["job"].checkpoint == out / "train" / "unet" / "checkpoint.pt"
    assert [r["method"] for r in results.load(out)] == [jobs.METHOD["unet"]]
    assert not (tmp_path / "elsewhere").exists()


def test_the_cli_resolves_the_profile_once_and_passes_it_down(monkeypatch):
    monkeypatch.setenv("EOSR_PROFILE", "smoke")
    seen = {}

    def fake_run(kind, profile=None, **kwargs):
        seen["profile"], seen["environ"] = profile, os.environ.get("EOSR_PROFILE")
        return {}

    monkeypatch.setattr(jobs, "run", fake_run)
    assert cli.main(["train", "unet"]) == 0  # the user's EOSR_PROFILE, resolved at the entry
    assert seen == {"profile": "smoke", "environ": "smoke"}
    assert cli.main(["train", "unet", "--profile", "teaching"]) == 0
    assert seen["profile"] == "teaching" and os.environ["EOSR_PROFILE"] == "smoke"  # not written


def test_reproduce_gives_the_kernels_their_folder_in_an_env_dict(tmp_path, monkeypatch):
    from helpers.records import execute

    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    before, calls = dict(os.environ), []

    def fake_execute(nb, out, parameters, cwd, timeout, env=None):
        calls.append(env)
        Path(out).write_text(Path(nb).read_text())

    monkeypatch.setattr(execute, "execute_notebook", fake_execute)
    run = reproduce.reproduce(profile="smoke", notebooks=["00"])
    assert calls == [{"EOSR_RUN_DIR": str(run), "EOSR_PROFILE": "smoke"}]
    assert dict(os.environ) == before


def test_execute_hands_the_kernel_an_env_dict(tmp_path, monkeypatch):
    import papermill

    from helpers.records import execute

    monkeypatch.delenv(config.HEADLESS_ENV, raising=False)
    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: seen.update(kw))
    execute.execute_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", env={"EOSR_RUN_DIR": "r"})
    assert seen["env"][config.HEADLESS_ENV] == "1" and seen["env"]["EOSR_RUN_DIR"] == "r"
    assert seen["env"]["PATH"] == os.environ["PATH"]  # the rest of the environment inherited
    assert config.HEADLESS_ENV not in os.environ  # set for the kernel only


def test_the_backend_is_an_argument_not_an_environment_variable(monkeypatch):
    monkeypatch.delenv(distributed.BACKEND_ENV, raising=False)
    assert distributed.default_backend("gloo") == "gloo"
    assert distributed.BACKEND_ENV not in os.environ


def test_a_run_folder_is_named_after_the_profile_it_is_given(tmp_path, monkeypatch):
    """A notebook run with ``-p PROFILE smoke`` and no ``EOSR_PROFILE`` gets a smoke run folder;
    a checkpoint goes into the folder the caller passes, whatever the environment says."""
    from helpers.records import runs

    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("EOSR_PROFILE", "teaching")
    monkeypatch.delenv("EOSR_RUN_DIR", raising=False)
    monkeypatch.setattr(runs, "_CURRENT", None)
    run = runs.run_dir("smoke")
    assert run.name.endswith("-smoke") and runs.run_dir() == run  # one folder per session
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("EOSR_RUN_DIR", str(tmp_path / "env_run"))
    path = runs.new_checkpoint_path("08_full model", run=elsewhere)
    assert path.parent.parent == elsewhere / "train" and path.parent.is_dir()
    assert not (tmp_path / "env_run").exists()


def _code(stem: str) -> str:
    import nbformat

    path = Path(__file__).resolve().parents[1] / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def unpassed_run_folder(code: str) -> list[str]:
    """What in a notebook's code resolves the run folder again instead of passing ``RUN`` down:
    a second ``runs.run_dir(``, a checkpoint path or a record without the folder."""
    import ast

    problems = []
    if code.count("runs.run_dir(") != 1:
        problems.append(f"runs.run_dir( called {code.count('runs.run_dir(')} times (once: RUN)")
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        kw = {k.arg for k in node.keywords}
        if name == "runs.new_checkpoint_path" and "run" not in kw:
            problems.append(f"line {node.lineno}: runs.new_checkpoint_path without run=RUN")
        if name in ("results.record", "results.record_seeds") and "run_folder" not in kw:
            problems.append(f"line {node.lineno}: {name} without run_folder=RUN")
    return problems


@pytest.mark.parametrize(
    "stem", ["03_unet_landcover", "08_ntl_super_resolution", "09_ntl_ablation"]
)
def test_notebooks_resolve_their_run_folder_once_and_pass_it_down(stem):
    assert unpassed_run_folder(_code(stem)) == []


def test_the_run_folder_check_fails_on_a_notebook_that_resolves_it_again():
    good = 'RUN = runs.run_dir(PROFILE)\nresults.record("n", "m", {}, run_folder=RUN)\n'
    assert unpassed_run_folder(good) == []
    bad = good + 'p = runs.new_checkpoint_path("x")\nresults.record("n", "m", {})\nruns.run_dir()\n'
    problems = unpassed_run_folder(bad)
    assert len(problems) == 3, problems


def test_settings_take_the_profile_they_are_given_never_the_environment(monkeypatch):
    monkeypatch.setenv("EOSR_PROFILE", "smoke")
    assert config.settings("08_ntl_super_resolution", "teaching") == config.settings(
        "ntl_super_resolution", "teaching"
    )
    with pytest.raises(ValueError, match="resolved at the entry point"):
        config.settings("08_ntl_super_resolution", None)  # not silently EOSR_PROFILE's
