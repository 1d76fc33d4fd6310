"""`make release` (tools/release.py): version bump, changelog heading, README badge table and the
refusals, on a scratch git repository (the build and the wheel check run in `make release`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import release  # noqa: E402


def _scratch(tmp_path: Path) -> Path:
    root = tmp_path / "kit"
    root.mkdir()
    for name in ("pyproject.toml", "CITATION.cff", "CHANGELOG.md", "README.md"):
        shutil.copy2(ROOT / name, root / name)
    (root / "notebooks").mkdir()
    shutil.copy2(ROOT / "notebooks" / "00_setup_and_tour.ipynb", root / "notebooks")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    return root


def test_set_version_writes_pyproject_citation_and_a_changelog_heading(tmp_path):
    root = _scratch(tmp_path)
    release.set_version(root, "9.8.7", "2030-01-02")
    assert 'version = "9.8.7"' in (root / "pyproject.toml").read_text()
    assert 'version: "9.8.7"' in (root / "CITATION.cff").read_text()
    log = (root / "CHANGELOG.md").read_text()
    assert "## Unreleased\n\n## 9.8.7 (2030-01-02)\n" in log
    release.set_version(root, "9.8.7", "2030-01-02")  # twice: one heading
    assert (root / "CHANGELOG.md").read_text().count("## 9.8.7") == 1


def test_readme_badge_table_is_pinned_to_the_tag(tmp_path):
    root = _scratch(tmp_path)
    release.readme_badges(root, "https://github.com/someone/eosr-kit", "v9.8.7")
    text = (root / "README.md").read_text()
    table = release.BADGES.search(text)[2]
    assert "/github/someone/eosr-kit/blob/v9.8.7/notebooks/00_setup_and_tour.ipynb" in table
    assert sum(ln.startswith("| [") for ln in table.splitlines()) == 1  # one row per notebook


def test_release_refuses_a_bad_tag_a_dirty_tree_and_an_existing_tag(tmp_path):
    root = _scratch(tmp_path)
    with pytest.raises(SystemExit, match="v0.2.0"):
        release.main(["0.2", "--root", str(root)])
    (root / "README.md").write_text("changed\n")
    with pytest.raises(SystemExit, match="uncommitted"):
        release.main(["v9.9.9", "--root", str(root)])
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "README.md"], check=True)
    subprocess.run(["git", "-C", str(root), "tag", "v9.9.9"], check=True)
    with pytest.raises(SystemExit, match="exists"):
        release.main(["v9.9.9", "--root", str(root)])
