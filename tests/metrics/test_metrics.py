"""`GET /metrics` (issue 22, section 5): a real server, real kernels; each scrape parsed with
prometheus_client's own parser, and the numbers checked to move as they must."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from flask_notebook import __version__

from ..support.env import TOKEN
from ..support.kernel_client import stdout_of
from ..support.runs import start_run, wait_run, write_notebook
from ..support.server import Server
from ..support.waiting import wait_for

pytestmark = pytest.mark.live

METRICS_TOKEN = "metrics-only-secret-4711"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(srv: Server, **headers: str) -> Samples:
    response = requests.get(srv.url + "metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}", **headers},
                            timeout=30)
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def exists(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= got for (n, got) in samples)


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server(env={"NOTEBOOK_METRICS_TOKEN": METRICS_TOKEN})


def test_the_numbers_follow_kernels_executions_runs_contents_and_requests(srv: Server) -> None:
    before = scrape(srv)
    assert value(before, "flask_notebook_info", version=__version__) == 1
    assert exists(before, "process_resident_memory_bytes")

    kid = srv.start_kernel()
    client = srv.client(kid)  # the kernel has answered kernel_info: its start latency is observed
    out = client.run("print('hi')")
    assert stdout_of(out) == "hi\n"
    record = srv.json("POST", f"api/kernels/{kid}/execute?wait=true", 200, json={"code": "21 * 2"})
    assert record["status"] == "ok"
    failed = srv.json("POST", f"api/kernels/{kid}/execute?wait=true", 200, json={"code": "1 / 0"})
    assert failed["status"] == "error"
    srv.json("PUT", "api/contents/saved.txt", 201, json={"type": "file", "format": "text", "content": "x"})
    assert srv.request("GET", "api/no-such-thing").status_code == 404
    write_notebook(srv.root / "run.ipynb", "print('ran')")
    run = start_run(srv, path="run.ipynb")
    assert wait_run(srv, run["id"])["status"] == "completed"

    during = scrape(srv)
    assert value(during, "flask_notebook_kernel_starts_total", kernelspec="python3") \
        >= value(before, "flask_notebook_kernel_starts_total", kernelspec="python3") + 2  # ours and the run's
    assert value(during, "flask_notebook_kernel_start_seconds_count", kernelspec="python3") >= 2
    assert value(during, "flask_notebook_kernels", state="idle", kernelspec="python3") == 1
    assert value(during, "flask_notebook_websockets") == 1
    assert value(during, "flask_notebook_messages_total", direction="from_kernel", channel="iopub") > 0
    assert value(during, "flask_notebook_messages_total", direction="to_kernel", channel="shell") > 0
    assert value(during, "flask_notebook_executions_total", outcome="ok") == 1
    assert value(during, "flask_notebook_executions_total", outcome="error") == 1
    assert value(during, "flask_notebook_execution_seconds_count", outcome="ok") == 1
    assert value(during, "flask_notebook_runs_total", outcome="completed") == 1
    assert value(during, "flask_notebook_run_seconds_count", outcome="completed") == 1
    assert value(during, "flask_notebook_contents_operations_total", operation="save", outcome="ok") == 1
    assert value(during, "flask_notebook_http_requests_total", endpoint="api.contents.save_contents",
                 method="PUT", status="201") == 1
    assert value(during, "flask_notebook_http_request_seconds_count", endpoint="api.contents.save_contents",
                 method="PUT") == 1
    assert value(during, "flask_notebook_http_requests_total", endpoint="api.no_such_endpoint", status="404") == 1
    assert value(during, "flask_notebook_http_requests_total", endpoint="api.kernels.start_kernel",
                 method="POST", status="201") == 1
    # Routes, never raw paths: no kernel id appears in any label.
    assert not any(kid in v for (_, labels) in during for _, v in labels)

    client.close()
    wait_for(lambda: value(scrape(srv), "flask_notebook_websockets") == 0, timeout=10)
    after_ws = scrape(srv)
    assert value(after_ws, "flask_notebook_http_requests_total", endpoint="api.kernels.channels",
                 status="101") == 1  # counted once, when it ended
    assert not exists(after_ws, "flask_notebook_http_request_seconds_count", endpoint="api.kernels.channels")

    srv.json("DELETE", f"api/kernels/{kid}", 204)
    after = scrape(srv)
    assert value(after, "flask_notebook_kernels", state="idle", kernelspec="python3") == 0
    assert exists(after, "flask_notebook_kernels", state="idle", kernelspec="python3")  # falls to 0, stays
    wait_for(lambda: value(scrape(srv), "flask_notebook_kernel_stops_total", cause="shutdown") >= 2,
             timeout=10)  # ours, and the run's own kernel


def test_a_kernel_killed_with_sigkill_counts_a_death_by_sigkill(srv: Server) -> None:
    kid = srv.start_kernel()
    client = srv.client(kid)
    pid = int(stdout_of(client.run("import os; print(os.getpid())")))
    os.kill(pid, signal.SIGKILL)

    def counted() -> Samples | None:
        samples = scrape(srv)
        return samples if value(samples, "flask_notebook_kernel_deaths_total", kernelspec="python3",
                                cause="SIGKILL") == 1 else None

    samples = wait_for(counted, timeout=30)
    assert value(samples, "flask_notebook_kernel_restarts_total", kernelspec="python3", cause="died") == 1
    assert value(samples, "flask_notebook_kernel_deaths_total") == 1
    srv.json("DELETE", f"api/kernels/{kid}", 204)


def test_who_may_read_the_metrics(srv: Server) -> None:
    url = srv.url + "metrics"
    missing = requests.get(url, timeout=30)
    assert missing.status_code == 401
    assert missing.json() == {"message": "Authentication required", "reason": "no credentials"}
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ({"Authorization": "Bearer not-the-token"}, {"Authorization": "token not-the-token"}):
        refused = requests.get(url, headers=wrong, timeout=30)
        assert refused.status_code == 403 and refused.json()["message"] == "Forbidden"
    assert requests.get(url, params={"token": "wrong"}, timeout=30).status_code == 403
    # The server's token (the API's auth), and the metrics token, by header or query.
    assert requests.get(url, headers={"Authorization": f"token {TOKEN}"}, timeout=30).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30).status_code == 200
    assert requests.get(url, params={"token": METRICS_TOKEN}, timeout=30).status_code == 200
    # The metrics token opens nothing else.
    for path in ("api/status", "api/kernels", "api/contents", "tree"):
        response = requests.get(srv.url + path, headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                                allow_redirects=False, timeout=30)
        assert response.status_code in (302, 403), (path, response.status_code)
    assert METRICS_TOKEN not in srv.log()


def test_metrics_turned_off_are_not_served(make_server: Callable[..., Server]) -> None:
    srv = make_server(env={"NOTEBOOK_METRICS": "false"})
    response = srv.request("GET", "metrics")
    assert response.status_code == 404
    assert response.json()["message"] == "Metrics are turned off (NOTEBOOK_METRICS)"


def test_a_bad_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    from flask_notebook import create_app

    with pytest.raises(ValueError, match="NOTEBOOK_METRICS"):
        create_app({"NOTEBOOK_ROOT_DIR": str(tmp_path), "NOTEBOOK_METRICS": "sometimes"})
    with pytest.raises(ValueError, match="NOTEBOOK_METRICS_TOKEN"):
        create_app({"NOTEBOOK_ROOT_DIR": str(tmp_path), "NOTEBOOK_METRICS_TOKEN": 12})


def test_output_shed_from_a_replay_buffer_and_a_culled_kernel_are_counted(make_server: Callable[..., Server]) -> None:
    """A client away while its kernel prints past NOTEBOOK_WS_REPLAY_LIMIT: the replay buffer
    sheds output (counted with its bytes), and the idle kernel is then culled (a stop by
    "culled"), on one server."""
    srv = make_server(env={"NOTEBOOK_METRICS_TOKEN": METRICS_TOKEN, "NOTEBOOK_WS_REPLAY_LIMIT": "4096",
                           "NOTEBOOK_CULL_IDLE_TIMEOUT": "2", "NOTEBOOK_CULL_INTERVAL": "1"})
    kid = srv.start_kernel()
    client = srv.client(kid)
    client.execute("import time, sys\ntime.sleep(0.5)\nfor i in range(200): print('x' * 100, flush=True)")
    client.close()  # gone before the output comes: it goes to the replay buffer, which fills
    samples = wait_for(lambda: (s := scrape(srv)) and value(s, "flask_notebook_shed_messages_total",
                                                            queue="replay") > 0 and s, timeout=30)
    assert value(samples, "flask_notebook_shed_bytes_total", queue="replay") >= 100 * value(
        samples, "flask_notebook_shed_messages_total", queue="replay")
    assert value(samples, "flask_notebook_replay_buffered_bytes") <= 4096 + 4096  # bounded (replies are kept)
    assert value(samples, "flask_notebook_shed_messages_total", queue="connection") == 0
    wait_for(lambda: value(scrape(srv), "flask_notebook_kernel_stops_total", kernelspec="python3",
                           cause="culled") == 1, timeout=30)
    assert srv.request("GET", f"api/kernels/{kid}").status_code == 404
