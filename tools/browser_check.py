"""Real-browser check: the dashboard's widgets and map render in JupyterLab in a headless Chromium.

It starts JupyterLab on 127.0.0.1 (a free port, a random token, a temporary root holding a copy of
the notebook, so the repository's notebook is never touched), opens the notebook in Debian's
``chromium`` through the Chrome DevTools protocol, runs all cells through the Lab UI, waits until the
Leaflet map, its image overlays and the ipywidgets are in the page, takes a screenshot and stops
everything it started. Exit status 0 when the page passed, 1 when it did not, 2 when a tool is
missing. See docs/browser_check.md.

    python tools/browser_check.py                      # smoke profile, dashboard notebook
    python tools/browser_check.py --out .eosr_browser  # where the screenshot and summary go
    python tools/browser_check.py --site build/site    # the course site of `make docs`

``--site``: serves the built site on 127.0.0.1 and opens every notebook page in the same headless
Chromium; a page passes when it loaded, shows its title and as many rendered figures (decoded
``<img>`` of the notebook's PNG outputs) as the executed notebook it was built from holds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64decode
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1800",
]
# What the page must hold once the notebook has run (CSS selector -> minimum count).
REQUIRED = {
    ".leaflet-container": 1,
    "img.leaflet-image-layer": 5,  # the five ImageOverlay layers
    ".leaflet-control-layers": 1,
    ".widget-button": 2,
    ".widget-text": 1,
    ".widget-output": 1,
}
# Evaluated in the page: counts of the selectors, overlay images that loaded, notebook progress.
PROBE_JS = """(() => {
  const sel = __SELECTORS__;
  const counts = {};
  for (const s of Object.keys(sel)) counts[s] = document.querySelectorAll(s).length;
  const imgs = [...document.querySelectorAll('img.leaflet-image-layer')];
  const text = document.body ? document.body.innerText : '';
  return JSON.stringify({counts,
    overlays_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    checks_passed: text.includes('all checks passed'),
    errors: [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
      .map(e => e.innerText).filter(t => /Error|Traceback/.test(t)).map(t => t.slice(-400))});
})()""".replace("__SELECTORS__", json.dumps(REQUIRED))


# The open notebook panel (shell.currentWidget stays null in a headless, unfocused window).
PANEL_JS = """window.__eosrPanel = () => { if (!window.jupyterapp) return null;
  for (const w of window.jupyterapp.shell.widgets('main')) if (w.sessionContext) return w; return null; };
"""
DIAG_JS = (
    PANEL_JS
    + """JSON.stringify((() => { const app = window.jupyterapp; const w = window.__eosrPanel();
  const ctx = w && w.sessionContext; const k = ctx && ctx.session && ctx.session.kernel;
  return {title: document.title, app: !!app, widget: w ? w.constructor.name + ' ' + w.title.label : null,
          kernel: k ? k.status : null, dialogs: document.querySelectorAll('.jp-Dialog').length,
          text: (document.body ? document.body.innerText : '').slice(0, 300)}; })())"""
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_chromium() -> str | None:
    """Debian's chromium (or another Chromium/Chrome binary on PATH)."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> str:
    """GET ``url`` until it answers 200 (or ``proc`` exits); return the body."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} (see its log)")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local URL
                if resp.status == 200:
                    return resp.read().decode()
        except OSError as err:
            last = err
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last})")


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket (tornado)."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url, self.ws, self.ids = ws_url, None, itertools.count(1)

    async def connect(self) -> None:
        from tornado.websocket import websocket_connect

        self.ws = await websocket_connect(self.ws_url, max_message_size=256 * 2**20)

    async def call(self, method: str, timeout: float = 60, **params: object) -> dict:
        """Send one command and wait for its reply (events in between are dropped)."""
        msg_id = next(self.ids)
        await self.ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"DevTools {method} got no reply in {timeout} s")
            raw = await asyncio.wait_for(self.ws.read_message(), left)
            if raw is None:
                raise ConnectionError("DevTools websocket closed")
            reply = json.loads(raw)
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})

    async def evaluate(self, expression: str, timeout: float = 60) -> object:
        """Evaluate JavaScript in the page and return its (JSON-able) value."""
        result = await self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")


async def drive(devtools_port: int, url: str, out: Path, timeout: float) -> dict:
    """Open the notebook, run all cells through the Lab UI, wait for the widgets, screenshot."""
    targets = json.loads(wait_http(f"http://127.0.0.1:{devtools_port}/json/list", 30))
    page = next(t for t in targets if t.get("type") == "page")
    cdp = DevTools(page["webSocketDebuggerUrl"])
    await cdp.connect()
    await cdp.call("Page.enable")
    await cdp.call("Page.navigate", url=url)
    deadline = time.monotonic() + timeout
    steps = []

    async def until(js: str, what: str) -> None:
        while time.monotonic() < deadline:
            try:
                if await cdp.evaluate(js, timeout=20):
                    steps.append(f"{what} after {time.monotonic() - start:.1f} s")
                    return
            except (RuntimeError, TimeoutError):
                pass
            await asyncio.sleep(1)
        raise TimeoutError(f"timed out waiting for: {what}")

    start = time.monotonic()
    try:
        await _run_notebook(cdp, until, steps, start)
    except TimeoutError as err:
        diag = await cdp.evaluate(DIAG_JS, timeout=20)
        await _screenshot(cdp, out)
        raise TimeoutError(f"{err}; page state: {diag}") from err
    probe: dict = {}

    def ready(p: dict) -> bool:
        return (
            all(p["counts"].get(s, 0) >= n for s, n in REQUIRED.items())
            and p["overlays_loaded"] >= REQUIRED["img.leaflet-image-layer"]
            and p["checks_passed"]
        )

    while time.monotonic() < deadline:
        probe = json.loads(await cdp.evaluate(PROBE_JS, timeout=20))
        if ready(probe) or probe["errors"]:
            break
        await asyncio.sleep(2)
    steps.append(f"page probed after {time.monotonic() - start:.1f} s")
    # Bring the map into view, give Leaflet a moment to lay out, then take the picture.
    await cdp.evaluate(
        "(() => { const m = document.querySelector('.leaflet-container');"
        " if (m) m.scrollIntoView({block: 'center'}); return true; })()"
    )
    await asyncio.sleep(3)
    await _screenshot(cdp, out)
    probe["ok"] = ready(probe)
    probe["steps"] = steps
    try:
        await cdp.call("Browser.close", timeout=10)
    except (RuntimeError, TimeoutError, ConnectionError):
        pass
    return probe


async def _screenshot(cdp: DevTools, out: Path, name: str = "dashboard.png") -> None:
    shot = await cdp.call("Page.captureScreenshot", format="png", timeout=60)
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(b64decode(shot["data"]))


async def _run_notebook(cdp: DevTools, until: object, steps: list[str], start: float) -> None:
    """Wait for Lab and an idle kernel, then run all cells through the Lab command."""
    await until(
        PANEL_JS
        + "(() => { const p = window.__eosrPanel(); const s = p && p.sessionContext.session;"
        " return !!(s && s.kernel && s.kernel.status === 'idle'); })()",
        "notebook open, kernel idle",
    )
    await cdp.evaluate(
        "(() => { window.jupyterapp.shell.activateById(window.__eosrPanel().id); return true; })()"
    )
    await cdp.evaluate(
        "window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => true)"
    )
    steps.append(f"run-all started after {time.monotonic() - start:.1f} s")


SITE_PROBE_JS = """JSON.stringify((() => {
  const imgs = [...document.querySelectorAll('img')].filter(i => (i.src || '').startsWith('data:image/png'));
  return {ready: document.readyState, title: document.title,
          figures: imgs.filter(i => i.complete && i.naturalWidth > 0).length, images: imgs.length,
          colab: document.querySelectorAll('a[href*="colab.research.google.com"]').length};
})())"""


def expected_figures(site_src: Path) -> dict[str, int]:
    """PNG outputs per executed notebook the site was built from (``build/docs-src/notebooks``)."""
    import nbformat

    counts = {}
    for path in sorted((site_src / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        outputs = [o for c in cells if c.cell_type == "code" for o in c.get("outputs", [])]
        counts[path.stem] = sum("image/png" in o.get("data", {}) for o in outputs)
    return counts


async def probe_pages(
    devtools_port: int, base: str, pages: dict, out: Path, timeout: float
) -> dict:
    """Open each notebook page of the site; its figures as rendered against those expected."""
    targets = json.loads(wait_http(f"http://127.0.0.1:{devtools_port}/json/list", 30))
    page = next(t for t in targets if t.get("type") == "page")
    cdp = DevTools(page["webSocketDebuggerUrl"])
    await cdp.connect()
    await cdp.call("Page.enable")
    found = {}
    for stem, want in pages.items():
        await cdp.call("Page.navigate", url=f"{base}/notebooks/{stem}/")
        deadline, seen = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            try:
                seen = json.loads(await cdp.evaluate(SITE_PROBE_JS, timeout=20))
            except (RuntimeError, TimeoutError):
                seen = {}
            if seen.get("ready") == "complete" and seen.get("figures", -1) >= want:
                break
            await asyncio.sleep(0.5)
        ok = seen.get("figures") == want and seen.get("colab", 0) >= 1  # figures and the badge
        found[stem] = {**seen, "expected": want, "ok": ok}
        if len(found) == 1:
            await _screenshot(cdp, out, "site.png")
    try:
        await cdp.call("Browser.close", timeout=10)
    except (RuntimeError, TimeoutError, ConnectionError):
        pass
    return found


def check_site(site: Path, out: Path, timeout: float) -> int:
    """Serve ``site`` locally and check every notebook page in headless Chromium (exit status)."""
    import functools
    import http.server
    import threading

    chromium = find_chromium()
    if chromium is None:
        print(
            "chromium not found: `apt-get update && apt-get install -y chromium`", file=sys.stderr
        )
        return 2
    pages = expected_figures(site.parent / "docs-src")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # no line per request
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp, port = Path(tempfile.mkdtemp(prefix="eosr-site-")), free_port()
    out.mkdir(parents=True, exist_ok=True)
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}", f"--remote-debugging-port={port}"],
        stdout=open(out / "chromium.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{server.server_address[1]}"
    summary: dict = {"site": str(site), "pages": {}}
    try:
        summary["pages"] = asyncio.run(probe_pages(port, base, pages, out, timeout))
    except (TimeoutError, OSError, RuntimeError, ConnectionError) as err:
        summary["error"] = f"{type(err).__name__}: {err}"
    finally:
        stop(browser, "chromium")
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    found = summary["pages"]
    summary["ok"] = (
        bool(pages) and len(found) == len(pages) and all(p["ok"] for p in found.values())
    )
    (out / "site_summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


def stop(proc: subprocess.Popen | None, name: str, grace: float = 10) -> None:
    """Stop a process we started (and its process group), politely first."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass
    print(f"stopped {name} (pid {proc.pid})")


def main(argv: list[str] | None = None) -> int:
    """Run the check; print a JSON summary; exit 0 when the widgets and the map rendered."""
    parser = argparse.ArgumentParser(
        description="Render the dashboard notebook in headless Chromium."
    )
    parser.add_argument(
        "--notebook", type=Path, default=ROOT / "notebooks" / "10_results_dashboard.ipynb"
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".eosr_browser")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds for the page to be ready"
    )
    parser.add_argument("--site", type=Path, default=None, help="check a built course site instead")
    args = parser.parse_args(argv)
    if args.site is not None:
        return check_site(args.site.resolve(), args.out, min(args.timeout, 60))

    chromium = find_chromium()
    if chromium is None:
        print(
            "chromium not found: install it with `apt-get update && apt-get install -y chromium`",
            file=sys.stderr,
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="eosr-browser-"))
    lab = browser = None
    token = secrets.token_hex(16)
    lab_port, devtools_port = free_port(), free_port()
    env = dict(
        os.environ,
        EOSR_PROFILE=args.profile,
        EOSR_RUN_DIR=str(tmp / "run"),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    (tmp / "lab").mkdir()
    # No "news" notification over the screenshot.
    labconfig = tmp / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    shutil.copy(args.notebook, tmp / "lab" / args.notebook.name)
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"notebook": args.notebook.name, "profile": args.profile, "chromium": chromium}
    started = time.monotonic()
    try:
        jupyter = Path(sys.executable).with_name("jupyter")
        lab = subprocess.Popen(
            [
                str(jupyter),
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={lab_port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={tmp / 'lab'}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
                "--ServerApp.port_retries=0",
                "--LabApp.extension_manager=readonly",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env=env,
            stdout=open(args.out / "jupyterlab.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"http://127.0.0.1:{lab_port}/api/status?token={token}", 90, lab)
        browser = subprocess.Popen(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp / 'chromium'}",
                f"--remote-debugging-port={devtools_port}",
                "about:blank",
            ],
            stdout=open(args.out / "chromium.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{lab_port}/lab/tree/{args.notebook.name}?token={token}&reset"
        summary.update(
            asyncio.run(
                asyncio.wait_for(
                    drive(devtools_port, url, args.out, args.timeout), args.timeout + 90
                )
            )
        )
    except (TimeoutError, OSError, RuntimeError, ConnectionError) as err:
        summary.update(ok=False, error=f"{type(err).__name__}: {err}")
    finally:
        if lab is not None and lab.poll() is None:
            try:  # shut the server (and its kernels) down cleanly first
                req = urllib.request.Request(
                    f"http://127.0.0.1:{lab_port}/api/shutdown?token={token}", method="POST"
                )
                urllib.request.urlopen(req, timeout=10)  # noqa: S310 - local URL
                lab.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(browser, "chromium")
        stop(lab, "jupyterlab")
        shutil.rmtree(tmp, ignore_errors=True)
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["screenshot"] = str(args.out / "dashboard.png")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
