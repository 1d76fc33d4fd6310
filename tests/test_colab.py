"""Colab badges and setup cells come from [tool.eosr] in pyproject.toml; the sync tool is
idempotent and its --check detects drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from helpers.apps import colab

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import nbkit  # noqa: E402
import sync_notebooks  # noqa: E402

REPO = "https://github.com/someone/eosr-kit"


def test_badge_url():
    url = colab.badge_url("03_unet_landcover", REPO, "v1.0")
    assert (
        url
        == "https://colab.research.google.com/github/someone/eosr-kit/blob/v1.0/notebooks/03_unet_landcover.ipynb"
    )
    assert colab.badge_url("notebooks/03_unet_landcover.ipynb", REPO + ".git", "main").endswith(
        "/github/someone/eosr-kit/blob/main/notebooks/03_unet_landcover.ipynb"
    )
    assert colab.badge_markdown("x.ipynb", REPO, "main").startswith(
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]("
    )
    with pytest.raises(ValueError, match="github"):
        colab.badge_url("x", "https://gitlab.com/a/b", "main")


def test_title_cell_badge_renders_as_a_link():
    """After the ``<!-- eosr:badge -->`` comment the line is raw HTML to every CommonMark renderer:
    the badge must be an HTML link there, not markdown link syntax (shown as text)."""
    MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt  # mkdocs, jupyterlab bring it

    line = f"{colab.BADGE_MARK} {colab.badge_html('03_unet_landcover', REPO, 'v1.0')}"
    html = MarkdownIt("commonmark").render(f"# Title\n\n{line}\n")
    assert f'<a href="{colab.badge_url("03_unet_landcover", REPO, "v1.0")}">' in html
    assert "[![" not in html
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        title = nbformat.read(path, as_version=4).cells[0].source
        assert "[![" not in title and '<a href="https://colab.research.google.com/' in title, path


def test_placeholder_warns():
    with pytest.warns(colab.PlaceholderWarning, match="placeholder"):
        colab.badge_url("x", colab.PLACEHOLDER, "main")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        colab.badge_url("x", REPO, "main")


def test_settings_from_pyproject(tmp_path):
    repo, ref = colab.settings()
    assert repo.startswith("https://github.com/") and ref
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eosr]\nrepository = "https://github.com/a/b/"\nref = "dev"\n'
    )
    assert colab.settings(tmp_path / "pyproject.toml") == ("https://github.com/a/b", "dev")
    (tmp_path / "pyproject.toml").write_text("[tool.other]\n")
    with pytest.raises(KeyError, match="tool.eosr"):
        colab.settings(tmp_path / "pyproject.toml")


def test_setup_cell_matches_nbkit():
    assert colab.setup_source(nbkit.REPOSITORY, nbkit.REF) == nbkit.setup_cell().source
    src = colab.setup_source(REPO, "v2")
    assert '"EOSR_COLAB_REPO", "https://github.com/someone/eosr-kit"' in src
    assert '"EOSR_COLAB_REF", "v2"' in src
    assert "colab.install(KIT)" in src and "colab.setup(use_drive=USE_DRIVE)" in src
    assert "[dev]" not in src and "|| true" not in src
    assert len(src.splitlines()) <= 30  # the notebooks' cell limit (test_notebook_standards)
    assert src.startswith(colab.SETUP_MARK) and 'if "google.colab" in sys.modules' in src
    compile(src, "setup cell", "exec")  # plain Python: no shell magics to hide a failure


def test_setup_cell_installs_the_earthengine_extra_only_in_notebook_01():
    assert colab.extras_for("notebooks/01_fetch_earth_engine.ipynb") == "earthengine"
    assert colab.extras_for("03_unet_landcover") == ""
    src = colab.setup_source(REPO, "v2", "earthengine")
    assert 'colab.install(KIT, extras="earthengine")' in src and len(src.splitlines()) <= 30
    compile(src, "setup cell", "exec")
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if c.source.startswith(colab.SETUP_MARK))
        assert ('extras="earthengine"' in cell.source) == path.name.startswith("01_"), path.name


def test_setup_cell_is_ruff_formatted(tmp_path):
    """`make lint` formats notebooks too: the generated cell must already be in ruff's format."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    for extras in ("", "earthengine"):
        (tmp_path / "cell.py").write_text(
            colab.setup_source(colab.PLACEHOLDER, "v2", extras) + "\n"
        )
        done = subprocess.run(
            [ruff, "format", "--diff", str(tmp_path / "cell.py")], capture_output=True
        )
        assert done.returncode == 0, done.stdout.decode()


def test_setup_cell_stops_on_the_placeholder_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_COLAB_SETUP", "1")
    monkeypatch.delenv("EOSR_COLAB_REPO", raising=False)
    monkeypatch.setenv("EOSR_COLAB_DIR", str(tmp_path / "kit"))
    with pytest.raises(
        RuntimeError, match="placeholder: open the kit's own Colab badge, or set REPO"
    ):
        exec(colab.setup_source(colab.PLACEHOLDER, "v2"), {})
    assert not (tmp_path / "kit").exists()  # no clone was tried


def test_setup_cell_never_waits_for_a_git_password(monkeypatch, tmp_path):
    """A wrong (private or misspelt) GitHub URL makes git ask for a username; the cell must fail."""
    monkeypatch.setenv("EOSR_COLAB_SETUP", "1")
    monkeypatch.setenv("EOSR_COLAB_REPO", str(tmp_path / "nowhere"))
    monkeypatch.setenv("EOSR_COLAB_DIR", str(tmp_path / "kit"))
    monkeypatch.delenv("GIT_TERMINAL_PROMPT", raising=False)
    with pytest.raises(RuntimeError):
        exec(colab.setup_source(REPO, "v2"), {})
    import os

    assert os.environ.get("GIT_TERMINAL_PROMPT") == "0"


def test_pip_warnings_reach_the_student(monkeypatch, tmp_path, capsys):
    import subprocess as sp

    conflict = (
        "ERROR: pip's dependency resolver does not currently take into account all the packages "
        "that are installed. This behaviour is the source of the following dependency conflicts.\n"
        "google-colab 1.0.0 requires pandas==2.2.2, but you have pandas 2.3.0 which is incompatible.\n"
    )
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(
        sp, "run", lambda cmd, **kw: sp.CompletedProcess(cmd, 0, "Collecting x\n", conflict)
    )
    colab.install(tmp_path / "kit", python="py", extras="earthengine")
    out = capsys.readouterr().out
    assert "google-colab 1.0.0 requires pandas==2.2.2" in out and "dependency conflicts" in out
    assert "Collecting" not in out
    assert colab.pip_messages("Collecting x\nSuccessfully installed x\n") == ""


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delenv("EOSR_COLAB_SETUP", raising=False)
    scope: dict = {}
    exec(colab.setup_source(REPO, "v2"), scope)
    assert scope["USE_DRIVE"] is True and "KIT" not in scope


def test_setup_cell_fails_loudly_when_the_clone_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_COLAB_SETUP", "1")
    monkeypatch.setenv("EOSR_COLAB_REPO", str(tmp_path / "no-such-repository"))
    monkeypatch.setenv("EOSR_COLAB_DIR", str(tmp_path / "kit"))
    with pytest.raises(RuntimeError, match="git clone .* failed") as err:
        exec(colab.setup_source(REPO, "v2"), {})
    assert "REPO/REF" in str(err.value)
    assert not (tmp_path / "kit" / "src").exists()


def test_install_keeps_torch_and_installs_the_runtime_set_only(monkeypatch, tmp_path):
    import subprocess as sp
    from importlib import metadata

    calls = []
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(
        sp, "run", lambda cmd, **kw: calls.append(cmd) or sp.CompletedProcess(cmd, 0)
    )
    cmd = colab.install(tmp_path / "kit", python="py")
    assert calls == [cmd]
    assert cmd[:7] == ["py", "-m", "pip", "install", "-q", "-e", str(tmp_path / "kit")]
    assert "[dev]" not in " ".join(cmd) and cmd[-2] == "-c"
    pins = Path(cmd[-1]).read_text().split()
    assert f"torch=={metadata.version('torch')}" in pins  # pip may not replace the runtime's torch
    monkeypatch.setattr(sp, "run", lambda cmd, **kw: sp.CompletedProcess(cmd, 1, "", "no index"))
    with pytest.raises(RuntimeError, match="pip install .* failed .*\\n.*no index"):
        colab.install(tmp_path / "kit")
    monkeypatch.setattr(
        sp, "run", lambda cmd, **kw: calls.append(cmd) or sp.CompletedProcess(cmd, 0)
    )
    assert (
        colab.install(tmp_path / "kit", extras="earthengine")[6]
        == f"{tmp_path / 'kit'}[earthengine]"
    )


def test_colab_module_imports_with_the_standard_library_only():
    """The setup cell imports helpers.apps.colab from the fresh clone before pip installed anything."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from helpers.apps import colab; "
        "extra = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'helpers', '__main__'}; "
        "print(sorted(extra))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(ROOT / "src")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout


def _fake_colab(monkeypatch, mount_error=None):
    """A stand-in ``google.colab`` with ``drive.mount`` and ``output.enable_custom_widget_manager``."""
    import types

    calls = []
    google = types.ModuleType("google")
    google.__path__ = []
    pkg = types.ModuleType("google.colab")
    drive = types.ModuleType("google.colab.drive")
    output = types.ModuleType("google.colab.output")

    def mount(point):
        calls.append(("mount", point))
        if mount_error:
            raise mount_error

    drive.mount = mount
    output.enable_custom_widget_manager = lambda: calls.append(("widgets",))
    pkg.drive, pkg.output = drive, output
    for name, mod in [
        ("google", google),
        ("google.colab", pkg),
        ("google.colab.drive", drive),
        ("google.colab.output", output),
    ]:
        monkeypatch.setitem(sys.modules, name, mod)
    return calls


def test_setup_puts_data_and_runs_on_drive_and_enables_widgets(monkeypatch, tmp_path):
    monkeypatch.delenv("EOSR_DATA", raising=False)
    monkeypatch.delenv("EOSR_RUNS", raising=False)
    calls = _fake_colab(monkeypatch)
    done = colab.setup(use_drive=True, mount_point=tmp_path)
    assert ("widgets",) in calls and ("mount", str(tmp_path)) in calls
    base = tmp_path / "MyDrive" / "eosr-kit"
    assert done == {"drive": str(base), "widgets": True}
    import os

    assert os.environ["EOSR_DATA"] == str(base / "data") and (base / "runs").is_dir()
    from helpers.core import config

    assert config.data_dir() == (base / "data").resolve()
    assert config.runs_dir() == (base / "runs").resolve()


def test_setup_without_drive_permission_stays_in_the_runtime(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("EOSR_DATA", raising=False)
    calls = _fake_colab(
        monkeypatch, mount_error=RuntimeError("credential propagation was unsuccessful")
    )
    done = colab.setup(use_drive=True, mount_point=tmp_path)
    assert done["drive"] is None and done["widgets"] and "EOSR_DATA" not in __import__("os").environ
    assert "not mounted" in capsys.readouterr().out
    calls.clear()
    assert colab.setup(use_drive=False, mount_point=tmp_path)["drive"] is None
    assert calls == [("widgets",)]  # the student said no: Drive is not even asked


def _fake_repo(tmp_path, repository):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.eosr]\nrepository = "{repository}"\nref = "main"\n'
    )
    cells = [nbkit.header("Demo", ["g"]), nbkit.setup_cell(), nbkit.code("x = 1")]
    nbkit.save(tmp_path / "notebooks" / "01_demo.ipynb", cells)
    return tmp_path / "notebooks" / "01_demo.ipynb"


def test_sync_is_idempotent_and_check_detects_drift(tmp_path, capsys):
    path = _fake_repo(tmp_path, REPO)
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 1
    assert sync_notebooks.main(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "updated" in out and "| [01_demo](notebooks/01_demo.ipynb) | Demo |" in out
    first = path.read_text()
    nb = nbformat.read(path, as_version=4)
    assert colab.badge_url("01_demo", REPO, "main") in nb.cells[0].source
    assert '"https://github.com/someone/eosr-kit"' in nb.cells[1].source
    assert '"EOSR_COLAB_REF", "main"' in nb.cells[1].source
    assert sync_notebooks.main(["--root", str(tmp_path), "--quiet"]) == 0
    assert path.read_text() == first  # second run changes nothing
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 0
    (tmp_path / "pyproject.toml").write_text(
        '[tool.eosr]\nrepository = "https://github.com/other/kit"\nref = "v1"\n'
    )
    assert sync_notebooks.main(["--root", str(tmp_path), "--check", "--quiet"]) == 1
    assert path.read_text() == first  # --check writes nothing


def test_sync_warns_on_placeholder(tmp_path):
    _fake_repo(tmp_path, colab.PLACEHOLDER)
    tool = ROOT / "tools" / "sync_notebooks.py"
    proc = subprocess.run(
        [sys.executable, str(tool), "--root", str(tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "placeholder" in proc.stderr
    shutil.rmtree(tmp_path / "notebooks")


def test_pin_writes_the_ref_and_branches_are_not_pins(tmp_path, capsys):
    path = _fake_repo(tmp_path, REPO)
    assert sync_notebooks.main(["--root", str(tmp_path), "--quiet"]) == 0
    assert "branch" in capsys.readouterr().err  # ref = "main" moves under the notebooks
    assert sync_notebooks.main(["--root", str(tmp_path), "--quiet", "--pin", "v9.9"]) == 0
    assert 'ref = "v9.9"' in (tmp_path / "pyproject.toml").read_text()
    assert '"EOSR_COLAB_REF", "v9.9"' in nbformat.read(path, as_version=4).cells[1].source
    assert "git tag v9.9" in capsys.readouterr().err
    assert sync_notebooks.pin_problem("0123456789abcdef0123456789abcdef01234567", tmp_path) == ""


def test_pin_without_a_tag_uses_the_current_commit(tmp_path):
    _fake_repo(tmp_path, REPO)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert sync_notebooks.main(["--root", str(tmp_path), "--quiet", "--pin"]) == 0
    assert f'ref = "{head.strip()}"' in (tmp_path / "pyproject.toml").read_text()
    subprocess.run([*git, "tag", "v1.2"], check=True)
    assert sync_notebooks.current_pin(tmp_path) == "v1.2"
