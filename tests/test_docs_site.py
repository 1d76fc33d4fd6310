"""`make docs` (tools/build_docs.py): a smoke build of the course site from two tiny executed
notebooks of a fake run folder: a page per notebook with its figures and its Colab badge, the
README as home page, the docs pages and the run's report."""

from __future__ import annotations

import base64
import io
import re
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

pytest.importorskip("mkdocs_jupyter", reason="the docs extra: pip install -e '.[docs]'")

import build_docs  # noqa: E402

from helpers.apps import colab  # noqa: E402


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _executed(path: Path, title: str, figures: int) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{colab.BADGE_MARK} badge")]
    for i in range(figures):
        cell = nbformat.v4.new_code_cell(f"plot({i})", execution_count=i + 1)
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=f"figure {i}\n"),
            nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<F>"}),
        ]
        nb.cells.append(cell)
    nbformat.write(nb, path)


def fake_run(tmp_path: Path) -> Path:
    """A run folder as `make reproduce` writes it: executed notebooks and report.html."""
    run = tmp_path / "runs" / "20260101-000000-smoke"
    (run / "notebooks").mkdir(parents=True)
    _executed(run / "notebooks" / "00_first.ipynb", "00 · First", 1)
    _executed(run / "notebooks" / "01_second.ipynb", "01 · Second", 2)
    (run / "report.html").write_text("<html><body><h1>Report of the run</h1></body></html>")
    return run


def test_site_has_a_page_per_notebook_with_its_figures_and_badge(tmp_path):
    run = fake_run(tmp_path)
    assert build_docs.newest_run(tmp_path / "runs") == run
    site = build_docs.build(run, tmp_path / "site", work=tmp_path / "work")
    repository, ref = colab.settings()
    warnings.simplefilter("ignore", colab.PlaceholderWarning)
    for stem, figures in (("00_first", 1), ("01_second", 2)):
        page = (site / "notebooks" / stem / "index.html").read_text()
        assert len(re.findall(r'<img[^>]+src="data:image/png;base64', page)) == figures, stem
        assert colab.badge_url(stem, repository, ref) in page  # the badge of this release
    home = (site / "index.html").read_text()
    assert "EO-SR Kit" in home and "notebooks/00_first/" in home and "The course, executed" in home
    assert (site / "report.html").read_text().count("Report of the run") == 1
    assert "report.html" in (site / "report" / "index.html").read_text()
    for page in ("ARCHITECTURE", "sources", "citing"):
        assert (site / "docs" / page / "index.html").exists(), page
    assert (site / "CHANGELOG" / "index.html").exists()


def test_no_run_and_no_fallback_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("EOSR_RUNS", str(tmp_path / "empty"))
    with pytest.raises(SystemExit, match="make reproduce"):
        build_docs.main(["--out", str(tmp_path / "site")])
