"""``report.html`` of a run folder: the notebooks that ran, their times, and every recorded result
beside the published value it is compared with."""

from __future__ import annotations

import html
from pathlib import Path

from . import results


def write(run: Path) -> Path:
    """Render the report of ``run`` into ``run/report.html`` and return its path."""
    nb_rows = "".join(
        f"<tr><td><a href='{html.escape(r['output'])}'>{html.escape(r['notebook'])}</a></td>"
        f"<td>{r['status']}</td><td>{r['seconds']}</td><td><pre>{html.escape(r['error'][-600:])}</pre></td></tr>"
        for r in results.load_notebook_log(run)
    )
    rec_rows = ""
    for rec in results.load(run):
        pub = rec.get("published") or {}
        rec_rows += (
            f"<tr><td>{html.escape(rec['notebook'])}</td><td>{html.escape(rec['method'])}</td>"
            f"<td>{html.escape(str(rec['dataset']))}</td><td>{rec['profile']}</td><td>{rec['device']}</td>"
            f"<td>{rec.get('seconds')}</td><td>{_fmt(rec.get('metrics'))}</td>"
            f"<td>{_fmt(pub.get('metrics'))} {html.escape(str(pub.get('seed', '')))}</td></tr>"
        )
    page = f"""<!doctype html><html><head><meta charset='utf-8'><title>EO-SR Kit report: {run.name}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}pre{{white-space:pre-wrap;max-width:40em;margin:0}}</style></head><body>
<h1>EO-SR Kit report: {html.escape(run.name)}</h1>
<h2>Notebooks</h2><table><tr><th>notebook</th><th>status</th><th>seconds</th><th>error</th></tr>{nb_rows}</table>
<h2>Results</h2><table><tr><th>notebook</th><th>method</th><th>data</th><th>profile</th><th>device</th>
<th>seconds</th><th>ours</th><th>published</th></tr>{rec_rows}</table></body></html>"""
    out = run / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def _fmt(metrics: dict | None) -> str:
    if not metrics:
        return ""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in metrics.items())
