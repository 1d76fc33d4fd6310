"""``report.html`` of a run folder: every table of the source documents, ours beside the published.

The published numbers live here and nowhere else (:data:`PUBLISHED`, one entry per table row of a
source document, see docs/sources.md). A notebook's record is matched to its row by the record's
``published`` field (source, table, row; older records say ``seed``) or, failing that, by method name, so notebooks need not copy numbers:
``results.record(..., published=report.published_for("U-Net"))``. The report also embeds every
PNG of ``figures/``, links the executed notebooks and lists the notebook times and failures.
"""

from __future__ import annotations

import base64
import html
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import locks
from ..models import ordering
from . import results

HR_MARS = "HR-MARS"
PANDA_FINE = "PANDA-FINE"
DEEPLIGHT = "DeepLight"
# Records written before the source documents were named by title cite them by number.
_LEGACY_NUMBER = {"000": PANDA_FINE, "001": DEEPLIGHT, "002": HR_MARS}


def source_of(published: dict[str, Any] | None) -> str:
    """The source document a record's ``published`` field cites (``source``, or an old ``seed``)."""
    pub = published or {}
    cited = str(pub.get("source") or pub.get("seed") or "")
    if cited in (HR_MARS, PANDA_FINE, DEEPLIGHT):
        return cited
    for title in (HR_MARS, PANDA_FINE, DEEPLIGHT):
        if title.lower() in cited.lower():
            return title
    return _LEGACY_NUMBER.get(cited[:3], cited)


@dataclass(frozen=True)
class Row:
    """One published row: where it is printed and its values in record units (fractions, dB)."""

    source: str
    table: str
    row: str
    metrics: dict[str, float]
    quote: str
    aliases: tuple[str, ...] = ()
    notebook: str = ""


@dataclass(frozen=True)
class Table:
    """One table of a source document, the notebooks that compute it, and what differs from it."""

    key: str
    title: str
    source: str
    metrics: tuple[str, ...]
    notebooks: tuple[str, ...]
    differs: str
    rows: tuple[Row, ...] = field(default_factory=tuple)
    why: str = ""  # one line: why a run's ordering may differ from the published one


def _hr(row: str, iou: float, f1: float, quote: str, aliases: tuple[str, ...], nb: str) -> Row:
    return Row(
        HR_MARS, "HR-MARS land cover methods", row, {"iou": iou, "f1": f1}, quote, aliases, nb
    )


def _ab(row: str, psnr: float, quote: str, aliases: tuple[str, ...]) -> Row:
    return Row(
        PANDA_FINE, "PANDA-FINE ablation", row, {"psnr": psnr}, quote, aliases, "09_ntl_ablation"
    )


TABLES: tuple[Table, ...] = (
    Table(
        key="hr_mars",
        why=(
            "other data (the run's 'data' column vs SEN12MS / DFC2020 patches) and CPU training of "
            "minutes instead of full training; the ordering is the part worth comparing."
        ),
        title="HR-MARS: land cover from Sentinel-2 and coarse labels",
        source=HR_MARS,
        metrics=("iou", "f1"),
        notebooks=(
            "03_unet_landcover",
            "04_label_super_resolution",
            "05_cgan_pix2pix",
            "06_bag_of_colors",
        ),
        differs=(
            "The published numbers were computed on SEN12MS / DFC2020 patches (256 x 256, 4 bands "
            "RGB+NIR, 8 classes); the slides do not state the split, the number of epochs, nor how "
            "IoU and F1 are averaged over classes. Ours come from the data named in the 'data' "
            "column: on the synthetic sample scene the classes are easier to separate in some ways "
            "(clean spectra) and harder in others (small training set), so the absolute values are "
            "not comparable, only the ordering of the methods is worth comparing. The smoke and "
            "teaching profiles train for a CPU time budget (see 'time'), far shorter than any "
            "published training. The published bag-of-colors test scores (F1 67.77 %, IoU 77.35 %) "
            "cannot both hold for the same predictions, since F1 >= IoU for every class; they may "
            "be swapped in the slides."
        ),
        rows=(
            _hr(
                "U-Net",
                0.3812,
                0.4223,
                "IOU accuracy: 38.12%, F1 score: 42.23%",
                ("unet", "u net", "baseline semantic segmentation"),
                "03_unet_landcover",
            ),
            _hr(
                "Label super-resolution",
                0.1971,
                0.2876,
                "IOU accuracy: 19.71%, F1 score: 28.76%",
                ("label sr", "label super resolution", "labelsr"),
                "04_label_super_resolution",
            ),
            _hr(
                "cGAN low->high",
                0.5402,
                0.6299,
                "IOU accuracy: 54.02%, F1 score: 62.99%",
                ("cgan", "conditional gan", "low to high", "low->high"),
                "05_cgan_pix2pix",
            ),
            _hr(
                "pix2pix",
                0.6877,
                0.7757,
                "testing: IOU accuracy: 68.77%, F1 score: 77.57%",
                ("pix2pix", "pix 2 pix"),
                "05_cgan_pix2pix",
            ),
            _hr(
                "Bag of colors (train)",
                0.7928,
                0.8703,
                "Training Scores: F1: 87.03%, IOU: 79.28%",
                ("bag of colors train", "bag of colours train"),
                "06_bag_of_colors",
            ),
            _hr(
                "Bag of colors (test)",
                0.7735,
                0.6777,
                "Testing Scores: F1: 67.77%, IOU: 77.35%",
                ("bag of colors", "bag of colours", "bag of colors test", "bag of colours test"),
                "06_bag_of_colors",
            ),
        ),
    ),
    Table(
        key="panda_fine",
        why=(
            "other data (the run's 'data' column vs Luojia-01 + Landsat 8 + DEM) and short CPU "
            "training per row; the source's rows rise as components are added, the question is "
            "whether this run's do."
        ),
        title="PANDA-FINE: ablation of the night-light super-resolution model",
        source=PANDA_FINE,
        metrics=("psnr",),
        notebooks=("09_ntl_ablation",),
        differs=(
            "The published ablation was trained on Luojia-01 night lights (about 120 m) with "
            "Landsat 8 (7 bands) and DEM over 2018/2019, data that is not public; ours uses the "
            "data named in the 'data' column (on the sample scene: synthetic DMSP-like coarse lights "
            "with a known misregistration, x8 coarser). The slides do not state the data range "
            "(peak value) used for PSNR, the patch size, nor the epochs, so absolute PSNR values "
            "cannot be compared; the question worth asking is whether each added component raises "
            "PSNR as it does in the published rows. Each row here is trained for a short CPU time "
            "budget in the smoke and teaching profiles."
        ),
        rows=(
            _ab(
                "Baseline (September)",
                15.656,
                "√ × × × × 15.656",
                ("baseline", "baseline september"),
            ),
            _ab(
                "+ deformable CNN",
                19.314,
                "√ √ × × × 19.314",
                ("deformable cnn", "+deformable cnn"),
            ),
            _ab(
                "+ affine transformation",
                24.066,
                "√ √ √ × × 24.066",
                ("affine transformation",),
            ),
            _ab(
                "+ auxiliary supervision",
                29.199,
                "√ √ √ √ × 29.199",
                ("auxiliary supervision",),
            ),
            _ab(
                "+ multi-scale prediction loss",
                32.395,
                "√ √ √ √ √ 32.395",
                ("multi-scale prediction loss", "multiscale prediction loss", "multi-scale loss"),
            ),
        ),
    ),
    Table(
        key="deeplight",
        title="DeepLight: multi-modal night-light super-resolution",
        source=DEEPLIGHT,
        metrics=(),
        notebooks=("07_ntl_data_preparation", "08_ntl_super_resolution"),
        differs=(
            "The DeepLight README publishes no numbers: its code and the DeepLightMD "
            "data set are 'under technical reviewing'. Our rows therefore have nothing to be compared "
            "with; they document what the kit's model reaches on the data named in the 'data' column "
            "(on the sample scene: a DeepLightMD-like layout with LR NTL, DMO, DEM and ISP), under "
            "the profile's CPU time budget."
        ),
    ),
)

PUBLISHED: dict[tuple[str, str, str], Row] = {
    (r.source, r.table, r.row): r for t in TABLES for r in t.rows
}


# What our computation of each published row does differently, in a few words (the tables'
# "What differs and why" explains it at length): the data (sample scene or the real data set named
# in the record), the method's settings here, and the record's own ``departures``.
DEPARTURES: dict[str, str] = {
    "U-Net": "small CPU U-Net trained for the profile's epochs",
    "Label super-resolution": "statistics from the training region's fine labels",
    "cGAN low->high": "narrow CPU networks, 64 px crops, the profile's epochs",
    "pix2pix": "narrow CPU networks, 64 px crops, the profile's epochs",
    "Bag of colors (train)": "the profile's vocabulary and forest sizes",
    "Bag of colors (test)": "the profile's vocabulary and forest sizes",
}
_PANDA_DEPARTURE = "the profile's training steps; the PSNR data range is not stated in the source"
_SAMPLE_DATA = {
    HR_MARS: "sample scene (synthetic DFC2020-like), not DFC2020",
    PANDA_FINE: "sample scene (synthetic DMSP-like lights x8), not Luojia-01 + Landsat 8 + DEM",
}


def departures_of(row: Row, rec: dict[str, Any]) -> str:
    """What a record's computation of a published row does differently, in one line."""
    data = f"real data ({rec.get('dataset')})" if is_real(rec) else _SAMPLE_DATA.get(row.source)
    method = DEPARTURES.get(row.row, _PANDA_DEPARTURE if row.source == PANDA_FINE else "")
    return "; ".join(d for d in (data, method, str(rec.get("departures") or "")) if d)


_SYNONYMS = {"colours": "colors", "colour": "color", "training": "train", "testing": "test"}


def _tokens(text: str) -> set[str]:
    """Words of a method name, lower case, British spellings and split names unified."""
    words = re.findall(r"[a-z0-9]+|\+", str(text).lower())
    return {_SYNONYMS.get(w, w) for w in words}


def find_row(
    method: str, published: dict[str, Any] | None = None, notebook: str = ""
) -> Row | None:
    """The published row a record refers to: by its ``published`` source/table/row, else by method
    name: the row whose name or alias has all its words in the method name (the longest such
    wins), among the rows computed by ``notebook`` when it is given."""
    pub = published or {}
    key = (source_of(pub), pub.get("table"), pub.get("row"))
    if key in PUBLISHED:
        # the PANDA-FINE ablation rows hold notebook 09's rows only: notebook 08's full model has
        # paths the source does not have, so it keeps its own unpublished row
        if PUBLISHED[key].source == PANDA_FINE and notebook:
            return PUBLISHED[key] if _same_notebook(notebook, PUBLISHED[key].notebook) else None
        return PUBLISHED[key]
    words = _tokens(method)
    best, best_len = None, 0
    for row in PUBLISHED.values():
        if notebook and not _same_notebook(notebook, row.notebook):
            continue
        for name in (row.row, *row.aliases):
            need = _tokens(name)
            if need and need <= words and len(need) > best_len:
                best, best_len = row, len(need)
    return best


def _same_notebook(a: str, b: str) -> bool:
    """``"03_unet_landcover"`` and ``"unet_landcover"`` name the same notebook."""
    strip = lambda s: re.sub(r"^\d\d_", "", Path(str(s)).stem)  # noqa: E731
    return not b or strip(a) == strip(b)


def published_for(method: str) -> dict[str, Any]:
    """The ``published=`` argument of :func:`helpers.records.results.record` for a method (see TABLES)."""
    row = find_row(method)
    if row is None:
        known = ", ".join(r.row for r in PUBLISHED.values())
        raise KeyError(f"No published row for {method!r}; known: {known}.")
    return {"metrics": dict(row.metrics), "source": row.source, "table": row.table, "row": row.row}


def published(row: str) -> dict[str, float]:
    """The published metrics of one row (name or alias, e.g. ``"U-Net"``): notebooks print these
    instead of retyping numbers."""
    return dict(published_for(row)["metrics"])


def published_rows(table: str) -> list[Row]:
    """The published rows of one table (e.g. ``"PANDA-FINE ablation"``), in the document's order."""
    rows = [r for r in PUBLISHED.values() if r.table == table]
    if not rows:
        known = sorted({r.table for r in PUBLISHED.values()})
        raise KeyError(f"No published table {table!r}; known: {known}.")
    return rows


# ---- the comparison tables ----


def _table_of(rec: dict[str, Any], row: Row | None) -> Table | None:
    if row is not None:
        return next(t for t in TABLES if t.source == row.source)
    source = source_of(rec.get("published"))
    for table in TABLES:  # the source document it cites, else the notebook
        if source and source == table.source:
            return table
    for table in TABLES:
        if any(_same_notebook(str(rec.get("notebook") or ""), nb) for nb in table.notebooks):
            return table
    return None


def compare(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table (plus ``"real"``: records on real data that no table holds, and
    ``"other"``): published rows with the records matched to them, then records that belong to the
    table but have no published row."""
    out: dict[str, list[dict[str, Any]]] = {t.key: [] for t in TABLES}
    out["real"] = []
    out["other"] = []
    matched: dict[tuple[str, str, str], list[dict[str, Any]]] = {k: [] for k in PUBLISHED}
    extra: dict[str, list[dict[str, Any]]] = {k: [] for k in out}
    for rec in records:
        row = find_row(
            str(rec.get("method", "")), rec.get("published"), str(rec.get("notebook") or "")
        )
        if row is not None:
            matched[(row.source, row.table, row.row)].append(rec)
            continue
        table = _table_of(rec, None)
        extra[table.key if table else ("real" if is_real(rec) else "other")].append(rec)
    for table in TABLES:
        for row in table.rows:
            # one record per published row: the first matched (the method as published); later
            # ones (a kit variant, e.g. pix2pix with a softmax image) get rows of their own
            recs = matched[(row.source, row.table, row.row)]
            out[table.key].append({"method": row.row, "row": row, "record": (recs or [None])[0]})
            extra[table.key][:0] = recs[1:]
        for rec in extra[table.key]:
            out[table.key].append(
                {"method": str(rec.get("method", "")), "row": None, "record": rec}
            )
    for key in ("real", "other"):
        for rec in extra[key]:
            out[key].append({"method": str(rec.get("method", "")), "row": None, "record": rec})
    return out


def _ours(name: str, rec: dict[str, Any]) -> str:
    """One metric of a record: mean +- std over seeds where the record has several."""
    value, std, count = results.seed_stats(rec, name)
    text = _plain(fmt_metric(name, value))
    if std is None:
        return text + (" (1 seed)" if rec.get("seeds") else "")
    unit = " %" if text.endswith("%") else (" dB" if text.endswith("dB") else "")
    spread = _plain(fmt_metric(name, std)).removesuffix(unit)
    seeds = f" ({count} seeds)" if count else " (over seeds)"
    return f"{text.removesuffix(unit)} ± {spread}{unit}{seeds}"


def _plain(text: str) -> str:
    return html.unescape(text)


def row_lines(records: list[dict[str, Any]]) -> list[str]:
    """One line per published row (and per record matched to it): the published value, ours (mean
    +- std where seeds vary), data, profile and the departures, e.g. for a closing note."""
    lines = []
    groups = compare(records)
    for table in TABLES:
        for item in groups[table.key]:
            row, rec = item["row"], item["record"]
            if row is None:
                continue
            names = table.metrics or tuple(row.metrics)
            pub = ", ".join(f"{n} {_plain(fmt_metric(n, row.metrics.get(n)))}" for n in names)
            head = f"{row.source} · {row.row}: published {pub}"
            if rec is None:
                lines.append(f"{head} | ours: not run (recorded by {row.notebook})")
                continue
            ours = ", ".join(f"{n} {_ours(n, rec)}" for n in names)
            lines.append(
                f"{head} | ours ({rec.get('method')}): {ours} | data {rec.get('dataset')} | "
                f"profile {rec.get('profile')} | departures: {departures_of(row, rec)}"
            )
    return lines


# Rows left out of the ordering verdict: a training score is not a test result.
ORDERING_SKIP = ("Bag of colors (train)",)


def ordering_lines(records: list[dict[str, Any]]) -> list[str]:
    """Per source table with published numbers: does the run keep the published ordering of the
    methods (Kendall tau, Spearman rho, the pairs that flip; :mod:`helpers.models.ordering`)?"""
    groups, out = compare(records), []
    for table in (t for t in TABLES if t.metrics):
        metric, pub, ours = table.metrics[0], {}, {}
        for item in groups[table.key]:
            row, rec = item["row"], item["record"]
            if row is not None and rec is not None and row.row not in ORDERING_SKIP:
                pub[row.row], ours[row.row] = (
                    row.metrics.get(metric),
                    results.seed_stats(rec, metric)[0],
                )
        line = ordering.verdict(f"{table.source} ({metric})", ordering.agreement(pub, ours))
        out.append(f"{line} What differs: {table.why}")
    # notebook 13: the same methods on the real scene, when it ran
    from ..training import real_landcover

    pub = {r.row: r.metrics["iou"] for r in TABLES[0].rows}  # HR-MARS's published rows
    return out + real_landcover.ordering_lines(records, pub)


def row_lines_html(records: list[dict[str, Any]]) -> str:
    """:func:`row_lines` as a list for the report page."""
    items = "".join(f"<li>{_esc(line)}</li>" for line in row_lines(records))
    return (
        "<h2>Every published row in one line</h2><p>Published value, ours (mean ± standard "
        "deviation where a record holds several seeds), data, profile, departures.</p>"
        f"<ul>{items}</ul>"
    )


_MAIN_METRICS = ("iou", "f1", "psnr", "ssim", "accuracy")


def _metric_names(table: Table | None, rec: dict[str, Any] | None) -> tuple[str, ...]:
    """The metrics a markdown row shows: the table's when the record has one of them, else the
    record's main ones (e.g. the alignment effect in dB beside the PSNR rows)."""
    have = (rec or {}).get("metrics") or {}
    if table is not None and table.metrics and (not have or any(m in have for m in table.metrics)):
        return table.metrics
    return tuple(m for m in _MAIN_METRICS if m in have) or tuple(list(have)[:2])


def markdown_results(records: list[dict[str, Any]]) -> str:
    """Markdown: every table's rows (published, ours with mean +- std over seeds, data, profile,
    capped) and the records no table holds, e.g. for the README's results section."""
    groups = compare(records)
    lines = ["| table | row | published | ours | data | profile |", "|---|---|---|---|---|---|"]
    titles = {t.key: (t.source, t) for t in TABLES} | {"real": ("real data", None)}
    for key, (title, table) in titles.items():
        for item in groups[key]:
            row, rec = item["row"], item["record"]
            if rec is None:
                continue
            names = _metric_names(table, rec)
            pub = (
                ", ".join(f"{n} {_plain(fmt_metric(n, row.metrics.get(n)))}" for n in names)
                if row
                else "–"
            )
            ours = ", ".join(f"{n} {_ours(n, rec)}" for n in names)
            if rec.get("capped"):
                ours += " (capped)"
            name = row.row if row else ""
            lines.append(
                f"| {title} | {name} ({rec.get('method')}) | {pub} | {ours} | "
                f"{rec.get('dataset')} | {rec.get('profile')} |"
            )
    return "\n".join(lines)


def is_real(rec: dict[str, Any]) -> bool:
    """True for a record computed on real data (its dataset is named and is not the sample scene)."""
    dataset = rec.get("dataset")
    return bool(dataset) and dataset != results.SAMPLE_SCENE


def comparison_frame(records: list[dict[str, Any]] | None = None) -> Any:
    """All tables as one pandas DataFrame (published and ours per metric); for notebooks."""
    import pandas as pd

    records = results.load() if records is None else records
    rows = []
    for table in TABLES:
        for item in compare(records)[table.key]:
            rec = item["record"] or {}
            row = {"table": table.title.split(":")[0], "method": item["method"]}
            names = table.metrics or tuple((rec.get("metrics") or {}).keys())
            for name in names:
                pub = item["row"].metrics.get(name) if item["row"] else None
                row[f"{name} published"] = pub
                row[f"{name} ours"] = _number((rec.get("metrics") or {}).get(name))
            row.update(
                data=rec.get("dataset"),
                profile=rec.get("profile"),
                device=rec.get("device"),
                seconds=rec.get("seconds"),
                capped=rec.get("capped"),  # training hit its time cap: not the profile's run
            )
            rows.append(row)
    return pd.DataFrame(rows)


def real_frame(records: list[dict[str, Any]] | None = None) -> Any:
    """Records on real data that no published table holds (e.g. notebook 11), one row each."""
    import pandas as pd

    records = results.load() if records is None else records
    rows = []
    for item in compare(records)["real"]:
        rec = item["record"]
        row = {"notebook": rec.get("notebook"), "method": item["method"]}
        row.update({k: _number(v) for k, v in (rec.get("metrics") or {}).items()})
        row.update(data=rec.get("dataset"), profile=rec.get("profile"), seconds=rec.get("seconds"))
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["notebook", "method", "data"])


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def fmt_metric(name: str, value: Any) -> str:
    """A metric as the source documents print it: IoU/F1/accuracy in %, PSNR in dB; missing as an en dash."""
    if value is None:
        return "&ndash;"
    number = _number(value)
    if number is None:
        return html.escape(str(value)) if not isinstance(value, float) else "n/a"
    if name.lower() in ("iou", "f1", "accuracy", "miou", "precision", "recall", "ssim", "r2"):
        return f"{100 * number:.2f} %" if name.lower() not in ("ssim", "r2") else f"{number:.3f}"
    if name.lower() == "psnr":
        return f"{number:.3f} dB"
    return f"{number:.4g}"


# ---- HTML ----

_STYLE = """body{font-family:sans-serif;margin:2em;max-width:75em}td,th{border:1px solid #ccc;
padding:4px 6px;vertical-align:top}th{background:#f3f3f3}table{border-collapse:collapse;margin:.5em 0}
pre{white-space:pre-wrap;max-width:50em;margin:0;font-size:85%}.missing{color:#999}
.failed{color:#b00;font-weight:bold}.differs{max-width:60em;background:#fafae8;padding:.5em 1em}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:36em;border:1px solid #ddd}"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _seconds(value: Any) -> str:
    number = _number(value)
    return "&ndash;" if number is None else f"{number:.1f} s"


def table_html(table: Table, items: list[dict[str, Any]]) -> str:
    """One table of a source document: published and ours per metric, data, profile, device, time."""
    names = list(table.metrics)  # published metrics: a published and an ours column each
    head = "".join(f"<th>{_esc(n)} published</th><th>{_esc(n)} ours</th>" for n in names)
    head += "<th>other metrics (ours)</th>"
    body = ""
    for item in items:
        rec, row = item["record"], item["row"]
        cells = ""
        own = ((rec or {}).get("published") or {}).get("metrics") or {} if row is None else {}
        for name in names:
            pub = row.metrics.get(name) if row else own.get(name)
            star = "*" if row is None and pub is not None else ""
            ours = _esc(_ours(name, rec)) if rec else fmt_metric(name, None)  # +- std over seeds
            cells += f"<td>{fmt_metric(name, pub)}{star}</td><td>{ours}</td>"
        rest = {k: v for k, v in ((rec or {}).get("metrics") or {}).items() if k not in names}
        cells += "<td><small>" + "<br>".join(
            f"{_esc(k)} {fmt_metric(k, v)}" for k, v in rest.items()
        )
        cells += "</small></td>"
        if rec is None:
            where = f"not run: recorded by {row.notebook or ' / '.join(table.notebooks)}"
            tail = f"<td colspan='4' class='missing'>{_esc(where)}</td>"
        else:
            tail = (
                f"<td>{_esc(rec.get('dataset'))}</td><td>{_esc(rec.get('profile'))}</td>"
                f"<td>{_esc(rec.get('device'))}</td><td>{_seconds(rec.get('seconds'))}</td>"
            )
        if row is not None:
            source = f"<br><small>published: {_esc(row.quote)}</small>"
            if rec is not None and str(rec.get("method")) != row.row:
                source += f"<br><small>ours: {_esc(rec.get('method'))} ({_esc(rec.get('notebook'))})</small>"
        else:
            cited = ((rec or {}).get("published") or {}).get("table")
            source = (
                f"<br><small>{_esc(rec.get('notebook'))}; no row of its own in the source document"
            )
            source += f"; compared with: {_esc(cited)}</small>" if cited else "</small>"
        body += f"<tr><td>{_esc(item['method'])}{source}</td>{cells}{tail}</tr>"
    if not items:
        body = f"<tr><td colspan='{6 + 2 * len(names)}' class='missing'>no records</td></tr>"
    note = "" if table.rows else "<p><b>No numbers are published in this source document.</b></p>"
    return (
        f"<h2>{_esc(table.title)}</h2><p>Source document: <b>{_esc(table.source)}</b> (docs/sources.md); computed by "
        f"{_esc(', '.join(table.notebooks))}.</p>{note}<table><tr><th>method</th>{head}<th>data</th>"
        f"<th>profile</th><th>device</th><th>time</th></tr>{body}</table>"
        "<p><small>* a value carried by the record itself (the notebook compares this result "
        "with it); it is not a row of the source document's table.</small></p>"
        f"<div class='differs'><b>What differs and why.</b> {_esc(table.differs)}"
        f"{_data_sentence(items)}</div>"
    )


def _data_sentence(items: list[dict[str, Any]]) -> str:
    recs = [i["record"] for i in items if i["record"]]
    if not recs:
        return " No result of this run belongs to this table."
    data = sorted({str(r.get("dataset")) for r in recs})
    profiles = sorted({str(r.get("profile")) for r in recs})
    return _esc(f" In this run: data {', '.join(data)}; profile {', '.join(profiles)}.")


def other_html(items: list[dict[str, Any]], title: str = "Other records") -> str:
    """Records that belong to no source-document table (e.g. the tour, the data notebooks, real
    data)."""
    if not items:
        return ""
    rows = ""
    for item in items:
        rec = item["record"]
        metrics = ", ".join(
            f"{_esc(k)}={fmt_metric(k, v)}" for k, v in (rec.get("metrics") or {}).items()
        )
        rows += (
            f"<tr><td>{_esc(rec.get('notebook'))}</td><td>{_esc(item['method'])}</td><td>{metrics}</td>"
            f"<td>{_esc(rec.get('dataset'))}</td><td>{_esc(rec.get('profile'))}</td>"
            f"<td>{_esc(rec.get('device'))}</td><td>{_seconds(rec.get('seconds'))}</td></tr>"
        )
    return (
        f"<h2>{_esc(title)}</h2><table><tr><th>notebook</th><th>method</th><th>metrics</th>"
        f"<th>data</th><th>profile</th><th>device</th><th>time</th></tr>{rows}</table>"
    )


def notebooks_html(run: Path) -> str:
    """The notebook timing table with links to the executed notebooks and their errors."""
    log = results.load_notebook_log(run)
    if not log:
        return "<h2>Notebooks</h2><p class='missing'>No notebook log (notebooks.jsonl) in this run.</p>"
    rows = ""
    for r in log:
        out = r.get("output") or ""
        name = _esc(r.get("notebook"))
        link = f"<a href='{_esc(out)}'>{name}</a>" if out and (run / out).exists() else name
        status = _esc(r.get("status"))
        cls = "" if r.get("status") == "ok" else " class='failed'"
        error = _esc(str(r.get("error") or "")[-1500:])
        rows += f"<tr><td>{link}</td><td{cls}>{status}</td><td>{_seconds(r.get('seconds'))}</td><td><pre>{error}</pre></td></tr>"
    failed = [r for r in log if r.get("status") != "ok"]
    total = sum(_number(r.get("seconds")) or 0.0 for r in log)
    summary = f"<p>{len(log)} notebook(s), {len(failed)} failed, {total:.1f} s in all.</p>"
    return (
        f"<h2>Notebooks</h2>{summary}<table><tr><th>notebook</th><th>status</th><th>time</th>"
        f"<th>error</th></tr>{rows}</table>"
    )


def figures_html(run: Path) -> str:
    """Every PNG under ``figures/`` embedded as base64 (the report is one self-contained file)."""
    pngs = sorted((run / "figures").rglob("*.png")) if (run / "figures").is_dir() else []
    if not pngs:
        return "<h2>Figures</h2><p class='missing'>No figures saved in figures/.</p>"
    parts = []
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = _esc(png.relative_to(run / "figures").as_posix())
        parts.append(
            f"<figure><img alt='{caption}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return "<h2>Figures</h2>" + "".join(parts)


REAL_TITLE = "Real data (no published counterpart)"


def render(run: Path) -> str:
    """The whole report page of a run folder as HTML text."""
    run = Path(run).resolve()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = results.load(run, skip_broken=True)  # a half-written line is named, not fatal
    problems = "".join(
        f"<p class='failed'>{_esc(w.message)}</p>"
        for w in caught
        if "results.jsonl" in str(w.message)
    )
    groups = compare(records)
    data = sorted({str(r.get("dataset")) for r in records}) or ["none"]
    tables = "".join(table_html(t, groups[t.key]) for t in TABLES)
    return f"""<!doctype html><html><head><meta charset='utf-8'>
<title>EO-SR Kit report: {_esc(run.name)}</title><style>{_STYLE}</style></head><body>
<h1>EO-SR Kit report: {_esc(run.name)}</h1>
<p>{len(records)} result record(s) in <code>results.jsonl</code>; data: {_esc(", ".join(data))}.
Published values are quoted from the source documents (converted to % and dB as printed there);
results on the sample scene are synthetic and labelled "sample scene".</p>
{problems}{conventions_html()}
<h2>Does the published ordering hold?</h2><ul>{"".join(f"<li>{_esc(x)}</li>" for x in ordering_lines(records))}</ul>
{row_lines_html(records)}{tables}{other_html(groups["real"], REAL_TITLE)}{other_html(groups["other"])}
{notebooks_html(run)}{figures_html(run)}
</body></html>"""


def conventions_html() -> str:
    """The metric conventions (:data:`helpers.models.metrics.CONVENTIONS`) as a short list."""
    from ..models.metrics import CONVENTIONS

    items = "".join(f"<li><b>{_esc(k)}</b>: {_esc(v)}</li>" for k, v in CONVENTIONS.items())
    return f"<h2>Metric conventions</h2><ul>{items}</ul>"


def write(run: Path) -> Path:
    """Render the report of ``run`` into ``run/report.html`` atomically (a temporary file, then a
    rename: a reader never sees half a page) and return its path; a failed write names the file."""
    run = Path(run)
    out = run / "report.html"
    return locks.write_text_atomic(
        out,
        render(run),
        "Free disk space or check the folder's permissions, then run "
        "helpers.records.reproduce.write_report again.",
    )
