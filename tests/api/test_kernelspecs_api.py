"""Kernelspecs (contract section 7)."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient


def test_list_kernelspecs_has_default_and_python3(client: FlaskClient) -> None:
    response = client.get("/api/kernelspecs")
    assert response.status_code == 200
    body = response.json
    assert body["default"] == "python3"
    spec = body["kernelspecs"]["python3"]
    assert spec["name"] == "python3"
    assert spec["spec"]["language"] == "python"
    assert "{connection_file}" in spec["spec"]["argv"]
    assert spec["resources"]["logo-64x64"] == "/kernelspecs/python3/logo-64x64.png"


def test_get_kernelspec_is_case_insensitive(client: FlaskClient) -> None:
    response = client.get("/api/kernelspecs/PYTHON3")
    assert response.status_code == 200
    assert response.json["name"] == "python3"


def test_unknown_kernelspec_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/kernelspecs/nope")
    assert response.status_code == 404
    assert response.json == {"message": "Kernel spec nope not found", "reason": None}


def test_kernelspec_resource_is_served_with_long_cache(client: FlaskClient) -> None:
    with client.get("/kernelspecs/python3/logo-64x64.png") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert response.data.startswith(b"\x89PNG")
        assert "max-age=2592000" in response.headers["Cache-Control"]
    assert client.get("/kernelspecs/python3/nope.png").status_code == 404
    assert client.get("/kernelspecs/nope/logo-64x64.png").status_code == 404


def test_kernelspec_resource_needs_login(anon: FlaskClient) -> None:
    response = anon.get("/kernelspecs/python3/logo-64x64.png")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_broken_kernelspec_is_skipped_in_listing(client: FlaskClient, jupyter_env: Path) -> None:
    good = jupyter_env / "data" / "kernels" / "tiny"
    good.mkdir(parents=True)
    (good / "kernel.json").write_text(json.dumps({"argv": ["python", "-c", "pass"], "display_name": "Tiny",
                                                  "language": "python"}))
    (good / "logo-svg.svg").write_text("<svg/>")
    broken = jupyter_env / "data" / "kernels" / "broken"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text("{not json")
    response = client.get("/api/kernelspecs")
    assert response.status_code == 200
    specs = response.json["kernelspecs"]
    assert "broken" not in specs and "python3" in specs
    assert specs["tiny"]["resources"] == {"logo-svg": "/kernelspecs/tiny/logo-svg.svg"}
    failed = client.get("/api/kernelspecs/broken")
    assert failed.status_code == 500
    assert failed.json == {"message": "Unhandled error", "reason": None}
