"""The notebook page in a browser: flask-notebook against Notebook 7 on jupyter_server (issue 21).

Both servers serve one temporary root holding one notebook of 200 cells with about 5 MB of
outputs (100 Markdown cells, 100 code cells each with a stream, a PNG and an HTML table, as
``make_notebook.py`` makes them, without math). Headless chromium (Debian's, as the tests
use) opens the notebook page of each, alternating which goes first, each time in a new browser
context, so nothing is cached and both pay for every byte. Logging in is done beforehand by a
request of the context (the token URL sets the login cookie), outside the timing.

Measured per page load:

- **interactive**: from navigation start until every cell of the notebook is in the page, the
  first cell's editor is there, and the main thread has come back (a frame and a task after),
  in ms. For us: ``#nb-notebook[data-state=ready]`` and 200 ``.nb-cell``; for Notebook 7: 200
  ``.jp-Notebook .jp-Cell`` with a ``.cm-content`` in the first.
- **js**: bytes of JavaScript the page had transferred at that moment (resource timing's
  ``transferSize`` of every script, headers included), in KB.

The report gives medians, 10th/90th percentiles and our median over Notebook 7's (target
≤ 0.5 for interactive) and our JavaScript in KB (target ≤ 300). Notebook 7.6 comes from
``.venv-bench`` (bench/requirements.txt). Results go to ``bench/results-ui-latest.txt``.

    .venv/bin/python bench/ui.py --jupyter-python .venv-bench/bin/python [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import nbformat
from playwright.sync_api import Browser, sync_playwright

import run  # bench/run.py: servers, their clean-up, the environment header
from run import BenchError, Server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
CELLS = 200
NOTEBOOK = "nb200.ipynb"
#: Deadline of one page load, ms.
LOAD_DEADLINE_MS = 90_000
TARGET_RATIO = 0.5
TARGET_JS_KB = 300

#: Resolves when the page is interactive: every cell there, then a frame and a task later.
_INTERACTIVE = """([selector, cells, ready]) => new Promise((resolve) => {
  const done = () => document.querySelectorAll(selector).length >= cells
    && (!ready || document.querySelector(ready))
    && document.querySelector(selector + ' .cm-content');
  const finish = () => requestAnimationFrame(() => setTimeout(() => {
    const js = performance.getEntriesByType('resource')
      .filter((e) => e.initiatorType === 'script' || /\\.js(\\?|$)/.test(e.name))
      .reduce((sum, e) => sum + e.transferSize, 0);
    resolve({ ms: performance.now(), js });
  }));
  if (done()) return finish();
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); finish(); }
  });
  observer.observe(document, { childList: true, subtree: true, attributes: true });
})"""

PAGES = {
    "flask-notebook": (".nb-cell", "#nb-notebook[data-state=ready]"),
    "notebook7": (".jp-Notebook .jp-Cell", ".jp-Notebook"),
}


def make_notebook(path: str, cells: int = CELLS, size: int = 5_000_000, seed: int = 1) -> None:
    """`cells` cells, half Markdown, half code with outputs, about `size` bytes in all."""
    rng = random.Random(seed)
    code_cells = cells // 2
    png_bytes = max(1000, (size // code_cells - 5_000) * 3 // 4)
    png = base64.b64encode(rng.randbytes(png_bytes)).decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i in range(1, code_cells + 1):
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## Section {i}\n\nSome *text* with é ü 中文.\n"))
        lines = "\n".join(f"for k in range({j}):\n    print(k, {i})" for j in range(5))
        outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="".join(f"{k} {i} \u00e9\n" for k in range(100))),
            nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
            nbformat.v4.new_output(
                "execute_result", execution_count=i,
                data={"text/html": "<table>" + "".join(f"<tr><td>{k}</td></tr>\n" for k in range(50)) + "</table>",
                      "text/plain": "table"}),
        ]
        nb.cells.append(nbformat.v4.new_code_cell(lines, outputs=outputs, execution_count=i))
    nbformat.write(nb, path)


def notebook7_server(root: str, work: str, jupyter_python: str) -> Server:
    server = run.reference_server(root, work, jupyter_python)
    server.name = "notebook7"
    return server


def load_once(browser: Browser, server: Server) -> tuple[float, float]:
    """One cold load of the notebook page: (ms until interactive, KB of JavaScript)."""
    selector, ready = PAGES[server.name]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        login = context.request.get(f"{server.base}/tree?token={server.token}")
        if not login.ok:
            raise BenchError(f"{server.name}: logging in answered {login.status}")
        page = context.new_page()
        page.set_default_timeout(LOAD_DEADLINE_MS)
        page.goto(f"{server.base}/notebooks/{NOTEBOOK}", wait_until="commit")
        result: dict[str, Any] = page.evaluate(_INTERACTIVE, [selector, CELLS, ready])
        shut_down_sessions(server)
        return float(result["ms"]), float(result["js"]) / 1024
    finally:
        context.close()


def shut_down_sessions(server: Server) -> None:
    """Each load opens a session with a kernel: end them, so the next load starts alike."""
    for session in server.session.get(f"{server.base}/api/sessions", timeout=10).json():
        server.session.delete(f"{server.base}/api/sessions/{session['id']}", timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jupyter-python", required=True, help="Python of the env with notebook 7.6")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results-ui-latest.txt"))
    args = parser.parse_args(argv)
    jupyter_version = run.check_jupyter_python(args.jupyter_python)
    signal.signal(signal.SIGTERM, run._interrupt)
    run.kill_leftovers()
    work = tempfile.mkdtemp(prefix="bench-ui-")
    root = os.path.join(work, "root")
    os.makedirs(root)
    make_notebook(os.path.join(root, NOTEBOOK))
    size_mb = os.path.getsize(os.path.join(root, NOTEBOOK)) / 1e6
    servers = [run.ours_server(root, work), notebook7_server(root, work, args.jupyter_python)]
    samples: dict[str, dict[str, list[float]]] = {s.name: {"ms": [], "js": []} for s in servers}
    try:
        for server in servers:
            server.start()
        deadline = time.monotonic() + run.START_DEADLINE
        for server in servers:
            server.wait_ready(deadline)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                for server in servers:  # warm-up: the servers' own first-request costs
                    load_once(browser, server)
                for i in range(args.rounds):
                    for server in servers if i % 2 == 0 else servers[::-1]:
                        ms, js = load_once(browser, server)
                        samples[server.name]["ms"].append(ms)
                        samples[server.name]["js"].append(js)
                        print(f"round {i + 1} {server.name}: {ms:.0f} ms, {js:.0f} KB of JavaScript", flush=True)
            finally:
                browser.close()
    except BenchError as exc:
        return run.failed(exc, servers)
    finally:
        run.clean_up(servers, work)
        shutil.rmtree(work, ignore_errors=True)
    ours, theirs = samples["flask-notebook"], samples["notebook7"]
    ratio = run.stats(ours["ms"])[0] / run.stats(theirs["ms"])[0]
    js_kb = run.stats(ours["js"])[0]
    lines = run.environment(jupyter_version, args.jupyter_python, run._code_state())
    lines += [
        f"notebook: {CELLS} cells, {size_mb:.1f} MB; {args.rounds} cold loads each, alternating",
        "",
        f"{'server':<16}{'interactive ms median [p10-p90]':>34}{'JavaScript KB':>16}",
    ]
    for name, s in samples.items():
        lines.append(f"{name:<16}{run.spread(s['ms']):>34}{run.stats(s['js'])[0]:>16.0f}")
    lines += ["", run.verdict("interactive, flask-notebook / Notebook 7", ratio, TARGET_RATIO),
              f"our JavaScript on first load: {js_kb:.0f} KB (target <= {TARGET_JS_KB}) "
              + ("PASS" if js_kb <= TARGET_JS_KB else "MISS")]
    passed = ratio <= TARGET_RATIO and js_kb <= TARGET_JS_KB
    return run.finish(lines, args.output, passed, quick=False)


if __name__ == "__main__":
    sys.exit(main())
