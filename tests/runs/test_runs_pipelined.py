"""Runs send their cells to the kernel ahead (a pipeline): what that must not break. A failing
cell in the middle of what was sent, a cancel while later cells wait in the kernel, a timeout
of a cell that starts long after it was sent, input() while later cells wait."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..support.execute import execute, stdout, wait_file
from ..support.runs import get_run, read_notebook, start_run, stream, wait_run, write_notebook
from ..support.server import Server
from ..support.waiting import wait_for

OLD_OUTPUT = {"output_type": "stream", "name": "stdout", "text": "old\n"}


def _old_cell(cell_id: str, source: str) -> dict[str, Any]:
    """A cell that was executed before (an output, a count) and must stay as it is."""
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [OLD_OUTPUT], "execution_count": 7,
            "id": cell_id}


def _sent(server: Server, kernel_id: str) -> int:
    """How many of the kernel's REST requests are in the kernel and not finished."""
    requests = server.json("GET", f"api/kernels/{kernel_id}/requests", 200)
    return sum(r["status"] in ("running", "input_required") for r in requests)


def _untouched(cell: Any) -> bool:
    return cell.outputs == [OLD_OUTPUT] and cell.execution_count == 7 and "flask_notebook" not in cell.metadata


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")


def test_a_failing_cell_in_the_middle_of_what_was_sent_leaves_the_later_cells_untouched(
        server: Server, kernel_id: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    write_notebook(server.root / "window.ipynb", "a = 1", wait_file(gate), "raise ValueError('in the middle')",
                   _old_cell("later1", "touched = True"), _old_cell("later2", "print('later')"))
    run = start_run(server, path="window.ipynb", kernel_id=kernel_id)
    # The cells after the one that waits are in the kernel already, queued behind it.
    wait_for(lambda: _sent(server, kernel_id) == 4, timeout=30)
    gate.touch()
    done = wait_run(server, run["id"])
    assert done["status"] == "failed" and done["cells_done"] == 3
    assert done["error"] == {"ename": "ValueError", "evalue": "in the middle", "cell_id": "c2"}
    cells = read_notebook(server.root / "window.ipynb").cells
    assert cells[2].outputs[-1].ename == "ValueError" and cells[2].metadata.flask_notebook.execution.status == "error"
    assert _untouched(cells[3]) and _untouched(cells[4])
    # The kernel aborted them: they never ran. Their requests ended.
    assert stdout(execute(server, kernel_id, "print('touched' in dir(), a)").json()) == "False 1\n"
    assert _sent(server, kernel_id) == 0
    names = [(name, data.get("cell_id")) for _, name, data in stream(server, run["id"]) if "cell_id" in data]
    assert [cell_id for name, cell_id in names if name == "cell_started"] == ["c0", "c1", "c2"]
    assert [cell_id for name, cell_id in names if name == "cell_finished"] == ["c0", "c1", "c2"]


def test_a_cancel_while_later_cells_wait_in_the_kernel_aborts_them(server: Server, kernel_id: str) -> None:
    write_notebook(server.root / "cancel.ipynb", "import time\nprint('started', flush=True)\nwhile True:\n"
                   "    time.sleep(0.05)", *[_old_cell(f"later{i}", f"flag{i} = True") for i in range(5)])
    run = start_run(server, path="cancel.ipynb", kernel_id=kernel_id)
    wait_for(lambda: _text(read_notebook(server.root / "cancel.ipynb").cells[0]), timeout=30)
    assert _sent(server, kernel_id) == 6
    response = server.request("DELETE", f"api/runs/{run['id']}")
    assert response.status_code == 202, response.text
    done = wait_run(server, run["id"], timeout=10)
    assert done["status"] == "cancelled" and done["cells_done"] == 1
    assert done["error"] == {"ename": "Cancelled", "evalue": "The run was cancelled", "cell_id": "c0"}
    cells = read_notebook(server.root / "cancel.ipynb").cells
    assert cells[0].outputs[-1].ename == "KeyboardInterrupt" and cells[0].metadata.flask_notebook.execution.status == "aborted"
    assert all(_untouched(cell) for cell in cells[1:])
    assert stdout(execute(server, kernel_id, "print([n for n in dir() if n.startswith('flag')])").json()) == "[]\n"


def test_a_timeout_counts_from_the_start_of_a_cell_that_waited_in_the_kernel(server: Server) -> None:
    # Sent together; the fifth starts about 3 s after it was sent, and runs 2 s before it is interrupted.
    write_notebook(server.root / "late.ipynb", *["import time\ntime.sleep(0.75)"] * 4, "time.sleep(60)",
                   _old_cell("never", "print('never')"))
    began = time.monotonic()
    run = wait_run(server, start_run(server, path="late.ipynb", timeout=2)["id"], timeout=60)
    assert run["status"] == "failed" and run["cells_done"] == 5 and time.monotonic() - began < 30
    assert run["error"]["ename"] == "CellTimeoutError" and run["error"]["cell_id"] == "c4"
    cells = read_notebook(server.root / "late.ipynb").cells
    assert [c.metadata.flask_notebook.execution.status for c in cells[:5]] == ["ok"] * 4 + ["error"]
    assert 1.9 <= cells[4].metadata.flask_notebook.execution.duration < 10
    assert [o.ename for o in cells[4].outputs] == ["CellTimeoutError"] and _untouched(cells[5])


def test_input_is_answered_while_later_cells_wait_in_the_kernel(server: Server, kernel_id: str) -> None:
    write_notebook(server.root / "ask.ipynb", "name = input('Who? ')", "greeting = 'hello ' + name",
                   "print(greeting)")
    run = start_run(server, path="ask.ipynb", kernel_id=kernel_id)
    waiting = wait_for(lambda: (r := get_run(server, run["id"]))["input_request"] and r, timeout=30)
    assert waiting["input_request"] == {"cell_id": "c0", "prompt": "Who? ", "password": False}
    assert waiting["current_cell"] == "c0" and waiting["cells_done"] == 0 and _sent(server, kernel_id) == 3
    assert server.request("POST", f"api/runs/{run['id']}/input", json={"value": "ada"}).status_code == 204
    done = wait_run(server, run["id"])
    assert done["status"] == "completed" and done["cells_done"] == 3
    cells = read_notebook(server.root / "ask.ipynb").cells
    assert _text(cells[2]) == "hello ada\n"
    counts = [c.execution_count for c in cells]
    assert None not in counts and counts == sorted(counts)
