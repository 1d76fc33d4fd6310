"""Prose cannot contradict the run: markdown cells state no measured result.

A sentence in a markdown cell that pairs a result word (IoU, PSNR, accuracy, "beats", ...) with a
measured-looking number (a decimal, a percentage, decibels, "N of M") is a result claim typed by
hand; such sentences are computed from the run's records in a code cell (``helpers.core.narrate``).
Definitions, settings and properties of the data that no run changes are allowed below, each
with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))

RESULT_WORD = re.compile(
    r"\b(IoU|PSNR|dB|accuracy|F1|RMSE|MAE|R2|R²|scores?|scored|beats?|outperforms?|"
    r"better|worse|hardest|easiest|higher|lower|above|below)\b",
    re.I,
)
NUMBER = re.compile(r"\b\d+\.\d+\b|\d\s?%|\d\s?dB\b|\b\d+ of \d+\b")

# Accepted sentences (a distinctive substring of each), with why no run can contradict them.
ALLOWED: dict[str, tuple[str, ...]] = {
    # a setting of the export code (a share of Earth Engine's request limit), not a result
    "01": ("stay under 75 % of the limit",),
    # what D's accuracy means (a definition), and a property of an untrained softmax by construction
    "05": ("near 0.5 neither player", "profile) scores 100 % here"),
}


def sentences(markdown: str) -> list[str]:
    """Sentences of a markdown cell's prose: code, maths, links, headings and tables removed,
    wrapped lines of a paragraph joined."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)", " ", text, flags=re.S)
    keep = [ln for ln in text.splitlines() if not ln.lstrip().startswith(("#", "|", "<"))]
    out = []
    for para in re.split(r"\n\s*\n|\n\s*[-*] |\n\s*\d+\. ", "\n".join(keep)):
        out += re.split(r"(?<=[.;!?])\s+", " ".join(para.split()))
    return [s for s in out if s]


def claims(markdown: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """The sentences that state a measured result by hand (not in ``allowed``)."""
    return [
        s
        for s in sentences(markdown)
        if NUMBER.search(s) and RESULT_WORD.search(s) and not any(a in s for a in allowed)
    ]


def test_the_scan_finds_a_typed_result_and_passes_settings_and_ideas():
    assert claims("The U-Net scores\nmacro IoU 0.74 on the test region.")
    assert claims("Full model: +7.2 dB over bicubic.")
    assert claims("It beats the coarse map in 5 of 8 classes.")
    assert not claims("We train for 22 epochs of 8 steps on 64 px crops.")
    assert not claims("IoU = TP / (TP + FP + FN), so F1 >= IoU for every class.")
    assert not claims("The cell below prints `iou = 0.74` from the run.")
    assert not claims("The coarse map reaches 0.52 IoU.", allowed=("coarse map reaches",))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_states_no_result_by_hand(path):
    nb = nbformat.read(path, as_version=4)
    allowed = ALLOWED.get(path.stem[:2], ())
    found = [
        f"cell {i}: {s[:160]}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for s in claims(cell.source, allowed)
    ]
    assert not found, (
        f"{path.name}: result claims typed in markdown (compute them from the records with "
        "helpers.core.narrate in a code cell, or reword so no run can contradict them):\n"
        + "\n".join(found)
    )
