"""Outputs an ipywidgets Output widget captures (``with out:``, ``interact``) are the widget's:
the execution record, and so a run's cell, does not get them (the page shows them in the widget)."""

from __future__ import annotations

from ..support.execute import execute
from ..support.server import Server

CODE = """\
import ipywidgets as w
out = w.Output()
display(out)
with out:
    print('inside the widget')
print('in the cell')
"""


def test_outputs_captured_by_an_output_widget_stay_out_of_the_record(server: Server, kernel_id: str) -> None:
    record = execute(server, kernel_id, CODE).json()
    assert record["status"] == "ok", record
    kinds = [output["output_type"] for output in record["outputs"]]
    assert kinds == ["display_data", "stream"], record["outputs"]
    assert "application/vnd.jupyter.widget-view+json" in record["outputs"][0]["data"]
    assert record["outputs"][1]["text"] == "in the cell\n"
