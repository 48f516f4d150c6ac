"""The file on disk while a run goes on, with a live server and real kernels: the user's save
mid-run (merged, no 409), valid nbformat at every read, the per-cell bound, timing metadata."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..support.runs import read_notebook, start_run, wait_run, write_notebook
from ..support.server import LiveServer
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

SLOW = "import time\nfor i in range(25):\n    print('tick', i, flush=True)\n    time.sleep(0.1)"


class Reader:
    """Reads the notebook in a tight loop in a thread, parsing and validating each read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self.problems: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                nbformat.validate(nbformat.reads(self.path.read_text(), as_version=4))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                self.problems.append(repr(exc)[:300])
            self.reads += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def big_stream(srv: LiveServer, run_id: str) -> list[tuple[str, Any]]:
    """The run's events, read in big pieces (``requests``' ``iter_lines`` takes quadratic
    time over lines of megabytes)."""
    response = srv.request("GET", f"api/runs/{run_id}", headers={"Accept": "text/event-stream"}, stream=True)
    body = b"".join(response.iter_content(chunk_size=1 << 20)).decode()
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def text(cell: Any) -> str:
    return "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")


def cells(nb: Any) -> dict[str, Any]:
    return {cell["id"]: cell for cell in nb["cells"]}


def test_a_put_of_an_edited_copy_mid_run_keeps_edit_and_outputs_and_every_read_is_valid(
        start_server: Callable[..., LiveServer], root: Path) -> None:
    srv = start_server(env={"NOTEBOOK_RUN_SAVE_INTERVAL": "0.1"})
    write_notebook(root / "nb.ipynb", "print('first')", SLOW, "print('last')")
    opened = srv.request("GET", "api/contents/nb.ipynb")  # the browser's copy, read before the run
    etag, copy = opened.headers["ETag"], opened.json()["content"]
    reader = Reader(root / "nb.ipynb")
    try:
        run = start_run(srv, path="nb.ipynb")
        # Partial outputs on disk while the slow cell runs, with no client connected.
        wait_for(lambda: "tick 3" in text(cells(read_notebook(root / "nb.ipynb"))["c1"]), timeout=30)
        copy["cells"][0]["source"] = "print('first, edited')"  # already executed: the file keeps the edit
        copy["cells"].insert(2, {"id": "mine", "cell_type": "markdown", "metadata": {}, "source": "# new cell"})
        copy["metadata"]["title"] = "edited mid-run"
        response = srv.request("PUT", "api/contents/nb.ipynb", headers={"If-Match": etag},
                               json={"type": "notebook", "format": "json", "content": copy})
        assert response.status_code == 200, response.text
        on_disk = read_notebook(root / "nb.ipynb")
        assert cells(on_disk)["c0"]["source"] == "print('first, edited')" and "mine" in cells(on_disk)
        assert text(cells(on_disk)["c0"]) == "first\n" and "tick 3" in text(cells(on_disk)["c1"])
        done = wait_run(srv, run["id"])
        assert done["status"] == "completed", done
    finally:
        reader.stop()
    assert reader.problems == [] and reader.reads > 20
    nb = read_notebook(root / "nb.ipynb")
    assert [cell["id"] for cell in nb["cells"]] == ["c0", "c1", "mine", "c2"]
    assert nb["metadata"]["title"] == "edited mid-run"
    by_id = cells(nb)
    assert by_id["c0"]["source"] == "print('first, edited')" and by_id["mine"]["source"] == "# new cell"
    assert text(by_id["c1"]) == "".join(f"tick {i}\n" for i in range(25)) and text(by_id["c2"]) == "last\n"
    counts = [by_id[c]["execution_count"] for c in ("c0", "c1", "c2")]
    assert all(isinstance(n, int) for n in counts) and counts == sorted(counts)
    for cell_id in ("c0", "c1", "c2"):
        timing = by_id[cell_id]["metadata"]["flask_notebook"]["execution"]
        assert timing["status"] == "ok" and timing["run_id"] == run["id"]
        assert timing["end"] >= timing["start"] and timing["duration"] >= 0
    assert by_id["c1"]["metadata"]["flask_notebook"]["execution"]["duration"] >= 2
    # The page saves again after the run, with the version it read: merged, not a conflict.
    copy["cells"][3]["source"] = "print('last, edited after')"
    response = srv.request("PUT", "api/contents/nb.ipynb", headers={"If-Match": etag},
                           json={"type": "notebook", "format": "json", "content": copy})
    assert response.status_code == 200, response.text
    after = cells(read_notebook(root / "nb.ipynb"))
    assert after["c2"]["source"] == "print('last, edited after')" and text(after["c2"]) == "last\n"
    assert text(after["c1"]) == text(by_id["c1"])


def test_a_cell_printing_30_mib_is_cut_in_the_file_but_not_in_the_stream(
        start_server: Callable[..., LiveServer], root: Path) -> None:
    srv = start_server(env={"NOTEBOOK_RUN_MAX_OUTPUT_BYTES": str(2**20)})
    big = "import sys\nfor _ in range(30):\n    sys.stdout.write('x' * (2**20 - 1) + '\\n')\nsys.stdout.flush()"
    write_notebook(root / "big.ipynb", big, "print('after')")
    run = start_run(srv, path="big.ipynb")
    assert wait_run(srv, run["id"])["status"] == "completed"
    events = big_stream(srv, run["id"])
    assert events[-1][0] == "done"
    streamed = sum(len(data["output"].get("text", "")) for name, data in events
                   if name == "output" and data["cell_id"] == "c0")
    assert streamed == 30 * 2**20  # the live stream is not cut
    nb = read_notebook(root / "big.ipynb")
    kept, notice = nb["cells"][0]["outputs"]
    kept_text = "".join(kept["text"])
    assert 2**20 - 4096 < len(kept_text) <= 2**20 and set(kept_text) <= {"x", "\n"}
    left_out = 30 * 2**20 + 30 - (len(kept_text) + kept_text.count("\n"))  # JSON bytes: "\n" takes 2
    assert notice["name"] == "stderr" and "".join(notice["text"]) == (
        f"[output truncated: 1 MiB limit (NOTEBOOK_RUN_MAX_OUTPUT_BYTES) reached; {left_out} bytes left out]\n")
    assert text(nb["cells"][1]) == "after\n"
    assert (root / "big.ipynb").stat().st_size < 3 * 2**20


def test_odd_outputs_of_a_real_kernel_are_written_valid_at_every_read(
        start_server: Callable[..., LiveServer], root: Path) -> None:
    srv = start_server(env={"NOTEBOOK_RUN_SAVE_INTERVAL": "0.05", "NOTEBOOK_RUN_MAX_OUTPUT_BYTES": "4096"})
    write_notebook(
        root / "odd.ipynb",
        "from IPython.display import display, update_display, clear_output, HTML, Markdown, JSON\n"
        "import time\n"
        "display({'text/plain': 'p', 'text/html': '<b>h</b>', 'image/png': 'iVBORw0KGgo=',\n"
        "         'application/json': {'a': [1, None]}, 'text/latex': '$x$', 'text/x-odd': 'o'}, raw=True)\n"
        "h = display(HTML('<i>0%</i>'), display_id=True)\n"
        "for i in range(5):\n"
        "    h.update(HTML(f'<i>{i * 25}%</i>')); time.sleep(0.05)",
        "import time\nfor i in range(10):\n    clear_output(wait=True)\n    print(f'step {i}\\r', end='', flush=True)\n"
        "    time.sleep(0.05)\nprint('\\r\\x1b[31mdone\\x1b[0m')",
        "import sys\nfor i in range(400):\n    print('é😀 line', i, file=sys.stderr)\n1/0",
    )
    reader = Reader(root / "odd.ipynb")
    try:
        run = start_run(srv, path="odd.ipynb", allow_errors=True)
        done = wait_run(srv, run["id"])
    finally:
        reader.stop()
    assert done["status"] == "completed", done
    assert reader.problems == [] and reader.reads > 20
    first, second, third = read_notebook(root / "odd.ipynb")["cells"]
    assert first["outputs"][0]["data"]["application/json"] == {"a": [1, None]}
    assert first["outputs"][1]["data"]["text/html"] == "<i>100%</i>"
    assert text(second) == "step 9\r\r\x1b[31mdone\x1b[0m\n"
    kinds = [output["output_type"] for output in third["outputs"]]
    assert kinds == ["stream", "stream", "error"] and "output truncated" in "".join(third["outputs"][1]["text"])
    assert third["metadata"]["flask_notebook"]["execution"]["status"] == "error"


def test_user_saves_racing_run_saves_lose_neither_side(start_server: Callable[..., LiveServer], root: Path) -> None:
    srv = start_server(env={"NOTEBOOK_RUN_SAVE_INTERVAL": "0.01"})
    write_notebook(root / "race.ipynb", {"id": "note", "cell_type": "markdown", "metadata": {}, "source": "v0"},
                   "import time\nfor i in range(150):\n    print('line', i, flush=True)\n    time.sleep(0.01)")
    opened = srv.request("GET", "api/contents/race.ipynb")
    etag, copy = opened.headers["ETag"], opened.json()["content"]
    reader = Reader(root / "race.ipynb")
    try:
        run = start_run(srv, path="race.ipynb")
        wait_for(lambda: "line 5" in text(cells(read_notebook(root / "race.ipynb"))["c1"]), timeout=30)
        edits = 0
        while srv.request("GET", f"api/runs/{run['id']}").json()["status"] == "running":
            copy["cells"][0]["source"] = f"v{edits + 1}"
            response = srv.request("PUT", "api/contents/race.ipynb", headers={"If-Match": etag},
                                   json={"type": "notebook", "content": copy})
            assert response.status_code == 200, response.text
            edits += 1
            assert cells(read_notebook(root / "race.ipynb"))["note"]["source"] == f"v{edits}"
        assert wait_run(srv, run["id"])["status"] == "completed"
    finally:
        reader.stop()
    assert reader.problems == [] and edits >= 5
    by_id = cells(read_notebook(root / "race.ipynb"))
    assert by_id["note"]["source"] == f"v{edits}"
    assert text(by_id["c1"]) == "".join(f"line {i}\n" for i in range(150))
