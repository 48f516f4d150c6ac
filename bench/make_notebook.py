"""Make a realistic notebook of about `size` bytes: code and markdown cells, streams, PNGs, HTML tables."""

from __future__ import annotations

import base64
import json
import random
import sys

import nbformat


def make_notebook(size: int = 5_000_000, seed: int = 1) -> nbformat.NotebookNode:
    rng = random.Random(seed)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    png = base64.b64encode(rng.randbytes(30_000)).decode()
    i = 0
    while len(nbformat.writes(nb)) < size if i % 20 == 0 else True:
        i += 1
        if i % 20 == 0 and len(json.dumps(nb)) >= size:
            break
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## Section {i}\n\nSome *text* with $x^{i}$ and é ü 中文.\n"))
        lines = "\n".join(f"for k in range({j}):\n    print(k, {i})" for j in range(5))
        outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="".join(f"{k} {i} \u00e9\n" for k in range(200))),
            nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
            nbformat.v4.new_output(
                "execute_result",
                data={"text/html": "<table>" + "".join(f"<tr><td>{k}</td></tr>\n" for k in range(50)) + "</table>",
                      "text/plain": "table", "application/json": {"a": [1, 2.5, None, True], "b": "x\ny"}},
                execution_count=i,
            ),
        ]
        nb.cells.append(nbformat.v4.new_code_cell(lines, outputs=outputs, execution_count=i))
    return nb


if __name__ == "__main__":
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 5_000_000
    nbformat.write(make_notebook(size), out)
