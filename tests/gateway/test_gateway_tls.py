"""A gateway behind TLS (issue 22, part 2): NOTEBOOK_GATEWAY_CA_CERTS, _VALIDATE_CERT,
_CLIENT_CERT and _CLIENT_KEY against a real Enterprise Gateway serving https with a
certificate from a trustme CA, and asking for client certificates (mutual TLS)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from flask_notebook import Notebook

from ..support.env import TOKEN
from ..support.gateway import Gateway, ca_file, issue
from ..support.kernel_client import V1
from ..support.server import Server
from .conftest import gateway_env
from .test_gateway_kernels import value_of


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(tmp_path_factory.mktemp("tls-gateway"), tls="server")
    yield gw
    gw.stop()


def kernel_round_trip(srv: Server, gateway: Gateway) -> None:
    """Kernelspecs, a session, and an execute over the WebSocket, through `srv`."""
    assert set(srv.json("GET", "api/kernelspecs", 200)["kernelspecs"]) == {"python3"}
    before = gateway.kernel_ids()
    session = srv.json("POST", "api/sessions", 201,
                       json={"path": "tls.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert len(gateway.kernel_ids() - before) == 1
    client = srv.client(session["kernel"]["id"], V1)
    client.run("x = 20")
    assert value_of(client.run("x + 1")) == "21"
    client.close()
    srv.json("DELETE", f"api/sessions/{session['id']}", 204)


def check_refused(srv: Server, *, reason: str, words: str) -> None:
    """Every gateway call fails at once with a 5xx JSON naming the TLS problem; the server answers."""
    for method, path, body in (("GET", "api/kernelspecs", None),
                               ("POST", "api/sessions", {"path": "t.ipynb", "type": "notebook",
                                                         "kernel": {"name": "python3"}})):
        t0 = time.monotonic()
        response = srv.request(method, path, json=body)
        assert time.monotonic() - t0 < 5, path
        assert 500 <= response.status_code < 600, (path, response.status_code, response.text)
        error = response.json()
        assert error["reason"] == reason and words in error["message"], error
        assert srv.request("GET", "api/status").status_code == 200
    assert srv.json("GET", "api/kernels", 200) == []


def test_https_with_the_ca_file(tls_gateway: Gateway, make_server: Callable[..., Server]) -> None:
    assert tls_gateway.ca_file is not None
    srv = make_server(env=gateway_env(tls_gateway, NOTEBOOK_GATEWAY_CA_CERTS=str(tls_gateway.ca_file)))
    kernel_round_trip(srv, tls_gateway)


def test_https_without_the_ca_file_fails_clearly(tls_gateway: Gateway, make_server: Callable[..., Server]) -> None:
    srv = make_server(env=gateway_env(tls_gateway))
    check_refused(srv, reason="gateway TLS failed", words="NOTEBOOK_GATEWAY_CA_CERTS")
    assert "certificate verify failed" in srv.request("GET", "api/kernelspecs").json()["message"].lower()


def test_https_without_validation(tls_gateway: Gateway, make_server: Callable[..., Server]) -> None:
    srv = make_server(env=gateway_env(tls_gateway, NOTEBOOK_GATEWAY_VALIDATE_CERT="false"))
    kernel_round_trip(srv, tls_gateway)


def test_mutual_tls(make_gateway: Callable[..., Gateway], make_server: Callable[..., Server]) -> None:
    gateway = make_gateway(tls="mutual")
    assert gateway.ca_file is not None and gateway.client_cert is not None
    with pytest.raises(requests.exceptions.SSLError):  # the gateway does ask for one
        gateway.get("api/kernelspecs", cert=None)
    cert, key = gateway.client_cert
    srv = make_server(env=gateway_env(gateway, NOTEBOOK_GATEWAY_CA_CERTS=str(gateway.ca_file),
                                      NOTEBOOK_GATEWAY_CLIENT_CERT=str(cert), NOTEBOOK_GATEWAY_CLIENT_KEY=str(key)))
    kernel_round_trip(srv, gateway)

    without = make_server(env=gateway_env(gateway, NOTEBOOK_GATEWAY_CA_CERTS=str(gateway.ca_file)))
    check_refused(without, reason="gateway TLS failed", words="NOTEBOOK_GATEWAY_CLIENT_CERT")


def app_with(root: Path, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN, NOTEBOOK_GATEWAY_URL="https://127.0.0.1:9")
    app.config.update(config)
    return app


def test_tls_settings_errors_stop_start_up(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    cert, key = issue(tmp_path, "client", "client@example.com")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases: list[tuple[dict[str, object], str]] = [
        ({"NOTEBOOK_GATEWAY_CA_CERTS": str(tmp_path / "missing.pem")},
         "NOTEBOOK_GATEWAY_CA_CERTS must be the path of a file that exists"),
        ({"NOTEBOOK_GATEWAY_CLIENT_CERT": str(tmp_path / "missing.pem")},
         "NOTEBOOK_GATEWAY_CLIENT_CERT must be the path of a file that exists"),
        ({"NOTEBOOK_GATEWAY_CA_CERTS": str(not_pem)}, f"NOTEBOOK_GATEWAY_CA_CERTS={str(not_pem)!r} is not a PEM file"),
        ({"NOTEBOOK_GATEWAY_CLIENT_CERT": str(not_pem)}, "NOTEBOOK_GATEWAY_CLIENT_CERT / NOTEBOOK_GATEWAY_CLIENT_KEY"),
        ({"NOTEBOOK_GATEWAY_CLIENT_KEY": str(key)}, "NOTEBOOK_GATEWAY_CLIENT_KEY is set without"),
        ({"NOTEBOOK_GATEWAY_URL": "https://user:secret@127.0.0.1:9"}, "NOTEBOOK_GATEWAY_URL must be"),
    ]
    for config, message in cases:
        app = app_with(root, **config)
        with pytest.raises(ValueError) as error:
            Notebook(app)
        assert str(error.value).startswith(message), (config, str(error.value))
        assert "notebook" not in app.extensions
    good = app_with(root, NOTEBOOK_GATEWAY_CA_CERTS=str(ca_file(tmp_path)), NOTEBOOK_GATEWAY_CLIENT_CERT=str(cert),
                    NOTEBOOK_GATEWAY_CLIENT_KEY=str(key))
    Notebook(good)
    good.extensions["notebook"].shutdown_all()
