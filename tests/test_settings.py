"""Settings: every NOTEBOOK_* key is checked once, at start-up. A bad value stops the app with
one line naming the key, the value and what it must be (the command line: exit status 2);
every form a setting was accepted in before is still accepted, with the same meaning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_notebook import Notebook, create_app
from flask_notebook.extension import DEFAULTS
from flask_notebook.factory import STANDALONE_DEFAULTS
from flask_notebook.settings import DEFINITIONS, Settings, from_environ

from .support.env import TOKEN

#: (key, a bad value, the message it gets): values of every kind of setting.
BAD = [
    ("NOTEBOOK_CULL_INTERVAL", "often", "NOTEBOOK_CULL_INTERVAL must be a number of seconds (0 or more), not 'often'"),
    ("NOTEBOOK_KERNEL_INFO_TIMEOUT", 0, "NOTEBOOK_KERNEL_INFO_TIMEOUT must be a number of seconds above 0, not 0"),
    ("NOTEBOOK_WS_PING_INTERVAL", [1], "NOTEBOOK_WS_PING_INTERVAL must be a number of seconds (0 or more), not [1]"),
    ("NOTEBOOK_CULL_IDLE_TIMEOUT", float("nan"),
     "NOTEBOOK_CULL_IDLE_TIMEOUT must be a number of seconds (0 or more), not nan"),
    ("NOTEBOOK_ALLOW_HIDDEN", "yes please", "NOTEBOOK_ALLOW_HIDDEN must be true or false, not 'yes please'"),
    ("NOTEBOOK_TERMINALS", 2, "NOTEBOOK_TERMINALS must be true or false, not 2"),
    ("NOTEBOOK_TERMINALS_CULL_TIMEOUT", -1,
     "NOTEBOOK_TERMINALS_CULL_TIMEOUT must be a number of seconds (0 or more), not -1"),
    ("NOTEBOOK_MAX_BODY_SIZE", "1e3", "NOTEBOOK_MAX_BODY_SIZE must be a whole number of bytes (0 or more), not '1e3'"),
    ("NOTEBOOK_COOKIE_MAX_AGE", 1.5, "NOTEBOOK_COOKIE_MAX_AGE must be a whole number of seconds (0 or more), not 1.5"),
    ("NOTEBOOK_WS_QUEUE_LIMIT", True, "NOTEBOOK_WS_QUEUE_LIMIT must be a whole number of bytes (0 or more), not True"),
    ("NOTEBOOK_MAX_KERNELS", -1, "NOTEBOOK_MAX_KERNELS must be a whole number, 0 or more (unset: no limit), not -1"),
    ("NOTEBOOK_WS_MAX_MESSAGE_SIZE", "big",
     "NOTEBOOK_WS_MAX_MESSAGE_SIZE must be a whole number of bytes (0 or unset: no limit), not 'big'"),
    ("NOTEBOOK_HIDE_GLOBS", "*.tmp", "NOTEBOOK_HIDE_GLOBS must be a list of glob patterns, not '*.tmp'"),
    ("NOTEBOOK_LOCAL_HOSTNAMES", "localhost", "NOTEBOOK_LOCAL_HOSTNAMES must be a list of host names, not 'localhost'"),
    ("NOTEBOOK_KERNEL_POOL", 5,
     "NOTEBOOK_KERNEL_POOL must be kernelspec names with sizes, like {\"python3\": 2} or \"python3=2,r=1\", not 5"),
    ("NOTEBOOK_KERNEL_POOL", {"python3": "many"}, "NOTEBOOK_KERNEL_POOL must be kernelspec names with sizes"),
    ("NOTEBOOK_TOKEN", 12345, "NOTEBOOK_TOKEN must be a string (None: generated; \"\": no token), not 12345"),
    ("NOTEBOOK_DEFAULT_KERNEL_NAME", "", "NOTEBOOK_DEFAULT_KERNEL_NAME must be a kernelspec name, not ''"),
    ("NOTEBOOK_ALLOW_ORIGIN_PAT", "(", "NOTEBOOK_ALLOW_ORIGIN_PAT must be a regular expression (missing ), "),
    ("NOTEBOOK_DATA_DIR", 5, "NOTEBOOK_DATA_DIR must be a directory, not 5"),
    ("NOTEBOOK_EXECUTE_TIMEOUT", "soon",
     "NOTEBOOK_EXECUTE_TIMEOUT must be a number of seconds (0: no limit), not 'soon'"),
    ("NOTEBOOK_TRUST_PROXY", "yes", "NOTEBOOK_TRUST_PROXY must be a number of proxies (0, 1, 2, ...), not 'yes'"),
    ("NOTEBOOK_REPLICA_URL", "10.0.0.5:8881",
     "NOTEBOOK_REPLICA_URL must be an http:// or https:// URL with a host and port and no path"),
    ("NOTEBOOK_REPLICA_URL", "http://10.0.0.5:8881/jupyter/",
     "NOTEBOOK_REPLICA_URL must be an http:// or https:// URL with a host and port and no path"),
    ("NOTEBOOK_REPLICA_URL", "http://10.0.0.5:port", "NOTEBOOK_REPLICA_URL must be a URL such as http://10.0.0.5:8888"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_a_bad_value_stops_init_app_with_one_line_naming_the_key(root: Path, key: str, value: Any,
                                                                  message: str) -> None:
    app = Flask(__name__)
    app.config.update(NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN)
    app.config[key] = value
    with pytest.raises(ValueError) as error:
        Notebook(app)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert "notebook" not in app.extensions and not app.blueprints  # nothing was started or mounted


def test_create_app_checks_the_environment_too(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOK_CULL_INTERVAL", "often")
    with pytest.raises(ValueError, match=r"^NOTEBOOK_CULL_INTERVAL must be a number of seconds \(0 or more\), "
                                         r"not 'often'$"):
        create_app({"NOTEBOOK_ROOT_DIR": str(root)})


#: (key, a value in a form accepted before, the setting's typed value): every kind, every form.
GOOD = [
    ("NOTEBOOK_ALLOW_HIDDEN", True, True), ("NOTEBOOK_ALLOW_HIDDEN", False, False),
    ("NOTEBOOK_ALLOW_HIDDEN", "true", True), ("NOTEBOOK_ALLOW_HIDDEN", "False", False),
    ("NOTEBOOK_ALLOW_HIDDEN", 1, True), ("NOTEBOOK_ALLOW_HIDDEN", 0, False),
    ("NOTEBOOK_ALLOW_HIDDEN", None, False), ("NOTEBOOK_ALLOW_REMOTE_ACCESS", "", False),
    ("NOTEBOOK_CULL_INTERVAL", 300, 300.0), ("NOTEBOOK_CULL_INTERVAL", "1", 1.0),
    ("NOTEBOOK_CULL_INTERVAL", 0.5, 0.5), ("NOTEBOOK_CULL_IDLE_TIMEOUT", "4", 4.0),
    ("NOTEBOOK_WS_PING_INTERVAL", "0.2", 0.2), ("NOTEBOOK_WS_PING_INTERVAL", None, 0.0),
    ("NOTEBOOK_MAX_BODY_SIZE", 1000, 1000), ("NOTEBOOK_MAX_BODY_SIZE", "1000", 1000),
    ("NOTEBOOK_WS_QUEUE_LIMIT", 1e6, 1_000_000), ("NOTEBOOK_COOKIE_MAX_AGE", 3600, 3600),
    ("NOTEBOOK_MAX_KERNELS", "2", 2), ("NOTEBOOK_MAX_KERNELS", None, None), ("NOTEBOOK_MAX_KERNELS", "", None),
    ("NOTEBOOK_WS_MAX_MESSAGE_SIZE", "100000", 100000), ("NOTEBOOK_WS_MAX_MESSAGE_SIZE", 0, None),
    ("NOTEBOOK_WS_MAX_MESSAGE_SIZE", None, None),
    ("NOTEBOOK_EXECUTE_TIMEOUT", "1.5", 1.5), ("NOTEBOOK_EXECUTE_TIMEOUT", 0, None),
    ("NOTEBOOK_HIDE_GLOBS", ["*.tmp"], ("*.tmp",)), ("NOTEBOOK_HIDE_GLOBS", [], ()),
    ("NOTEBOOK_LOCAL_HOSTNAMES", ("localhost", "box"), ("localhost", "box")),
    ("NOTEBOOK_KERNEL_POOL", {"Python3": 2}, {"python3": 2}), ("NOTEBOOK_KERNEL_POOL", "python3=2, r=1",
                                                              {"python3": 2, "r": 1}),
    ("NOTEBOOK_KERNEL_POOL", None, {}), ("NOTEBOOK_KERNEL_POOL_SEED", None, ""),
    ("NOTEBOOK_TOKEN", "", ""), ("NOTEBOOK_TOKEN", None, None), ("NOTEBOOK_PASSWORD", "", None),
    ("NOTEBOOK_SECRET_KEY", "s3cret", "s3cret"), ("NOTEBOOK_DATA_DIR", Path("/data"), "/data"),
    ("NOTEBOOK_TRUST_PROXY", "true", 1), ("NOTEBOOK_TRUST_PROXY", "2", 2), ("NOTEBOOK_TRUST_PROXY", None, 0),
    ("NOTEBOOK_HTTP_IDLE_TIMEOUT", "120", 120.0), ("NOTEBOOK_MAX_CONNECTIONS", " 7 ", 7),
    ("NOTEBOOK_BASE_URL", "/nb/", "/nb/"),
    ("NOTEBOOK_REPLICA_URL", "http://10.0.0.5:8881/", "http://10.0.0.5:8881"), ("NOTEBOOK_REPLICA_URL", "", None),
]


@pytest.mark.parametrize(("key", "value", "typed"), GOOD, ids=[f"{k}={v!r}" for k, v, _ in GOOD])
def test_every_accepted_form_gives_its_typed_value(root: Path, key: str, value: Any, typed: Any) -> None:
    settings = Settings.from_config({"NOTEBOOK_ROOT_DIR": str(root), key: value})
    name = next(d.name for d in DEFINITIONS if d.key == key)
    assert getattr(settings, name) == typed
    assert type(getattr(settings, name)) is type(typed)


def test_the_origin_pattern_is_compiled_once(root: Path) -> None:
    settings = Settings.from_config({"NOTEBOOK_ROOT_DIR": str(root),
                                     "NOTEBOOK_ALLOW_ORIGIN_PAT": r"https://.*\.trusted\.example"})
    assert settings.allow_origin_pat is not None and settings.allow_origin_pat.match("https://a.trusted.example")
    assert Settings.from_config({"NOTEBOOK_ROOT_DIR": str(root)}).allow_origin_pat is None


def test_the_defaults_are_the_settings_defaults(root: Path) -> None:
    settings = Settings.from_config({})
    assert settings.root_dir == os.getcwd()
    assert (settings.cull_interval, settings.ws_ping_interval, settings.execute_timeout) == (300.0, 25.0, 1800.0)
    assert settings.max_kernels is None and settings.kernel_pool == {} and settings.trust_proxy == 0
    assert {**DEFAULTS, **STANDALONE_DEFAULTS} == {d.key: d.default for d in DEFINITIONS}


def test_environment_values_are_json_except_for_string_settings() -> None:
    config = from_environ({"NOTEBOOK_ALLOW_HIDDEN": "true", "NOTEBOOK_HIDE_GLOBS": '["*.tmp"]',
                           "NOTEBOOK_TOKEN": "12345", "NOTEBOOK_MAX_KERNELS": "2", "NOTEBOOK_KERNEL_POOL": "python3=1",
                           "NOTEBOOK_CULL_INTERVAL": "often", "NOTEBOOK_UNKNOWN": "1", "HOME": "/root"})
    assert config == {"NOTEBOOK_ALLOW_HIDDEN": True, "NOTEBOOK_HIDE_GLOBS": ["*.tmp"], "NOTEBOOK_TOKEN": "12345",
                      "NOTEBOOK_MAX_KERNELS": "2", "NOTEBOOK_KERNEL_POOL": "python3=1",
                      "NOTEBOOK_CULL_INTERVAL": "often", "NOTEBOOK_UNKNOWN": "1"}


def test_views_read_the_typed_settings(root: Path) -> None:
    app = create_app({"TESTING": True, "NOTEBOOK_ROOT_DIR": str(root), "NOTEBOOK_TOKEN": TOKEN,
                      "NOTEBOOK_MAX_BODY_SIZE": "100", "NOTEBOOK_EXECUTE_API": "false"})
    try:
        settings = app.extensions["notebook"].settings
        assert (settings.max_body_size, settings.execute_api) == (100, False)
        assert app.config["NOTEBOOK_MAX_BODY_SIZE"] == "100"  # app.config keeps what the host set
        client = app.test_client()
        auth = {"Authorization": f"token {TOKEN}"}
        big = client.put("/api/contents/a.txt", headers=auth,
                         json={"type": "file", "format": "text", "content": "x" * 200})
        assert big.status_code == 413 and "limit of 100 bytes" in big.json["message"]
        assert client.post("/api/execute", headers=auth, json={"code": "1"}).status_code == 404
        with pytest.raises(AttributeError):
            settings.max_body_size = 5  # type: ignore[misc]  # frozen: read once, never changed
    finally:
        app.extensions["notebook"].shutdown_all()


def test_init_app_docstring_lists_every_key_with_its_meaning() -> None:
    doc = re.sub(r"\s+", " ", Notebook.init_app.__doc__ or "")
    for definition in DEFINITIONS:
        if not definition.standalone:
            assert f"``{definition.key}``: {definition.meaning}" in doc


@pytest.mark.live
@pytest.mark.parametrize(("key", "value", "message"), [
    ("NOTEBOOK_CULL_INTERVAL", "often", "NOTEBOOK_CULL_INTERVAL must be a number of seconds (0 or more), not 'often'"),
    ("NOTEBOOK_ALLOW_HIDDEN", "yes please", "NOTEBOOK_ALLOW_HIDDEN must be true or false, not 'yes please'"),
    ("NOTEBOOK_HIDE_GLOBS", "*.tmp", "NOTEBOOK_HIDE_GLOBS must be a list of glob patterns, not '*.tmp'"),
])
def test_the_command_line_stops_with_status_2_and_one_line(root: Path, key: str, value: str, message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "flask_notebook", "--port", "0", "--no-browser",
                           "--root-dir", str(root)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, key: value})
    assert done.returncode == 2
    assert done.stderr == f"flask-notebook: {message}\n"


def test_the_old_terminals_key_still_works(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``NOTEBOOK_TERMINALS_ENABLED`` was the key before ``NOTEBOOK_TERMINALS``: it is read,
    with a warning; both set to different values stop the start naming both."""
    from flask_notebook import settings

    settings._warned.discard("NOTEBOOK_TERMINALS_ENABLED")
    apps: list[Flask] = []

    def app_with(**config: Any) -> Flask:
        app = Flask(__name__)
        app.config.update(NOTEBOOK_ROOT_DIR=str(root), NOTEBOOK_TOKEN=TOKEN, **config)
        Notebook(app)
        apps.append(app)
        return app

    caplog.set_level("WARNING", "flask_notebook.settings")
    app = app_with(NOTEBOOK_TERMINALS_ENABLED="false")
    assert app.extensions["notebook"].settings.terminals_enabled is False
    assert app.extensions["notebook"].terminals is None
    assert "NOTEBOOK_TERMINALS_ENABLED is deprecated: set NOTEBOOK_TERMINALS instead" in caplog.text
    caplog.clear()
    assert app_with(NOTEBOOK_TERMINALS_ENABLED=False, NOTEBOOK_TERMINALS="false").extensions[
        "notebook"].settings.terminals_enabled is False
    assert "deprecated" not in caplog.text  # once a process
    assert app_with(NOTEBOOK_TERMINALS=False).extensions["notebook"].terminals is None
    with pytest.raises(ValueError) as error:
        app_with(NOTEBOOK_TERMINALS_ENABLED=False, NOTEBOOK_TERMINALS=True)
    assert str(error.value) == ("NOTEBOOK_TERMINALS_ENABLED (deprecated) and NOTEBOOK_TERMINALS are both set, to "
                                "different values (False and True): set only NOTEBOOK_TERMINALS")
    with pytest.raises(ValueError) as error:
        app_with(NOTEBOOK_TERMINALS_ENABLED=2)
    assert str(error.value) == "NOTEBOOK_TERMINALS_ENABLED must be true or false, not 2"
    assert settings.from_environ({"NOTEBOOK_TERMINALS_ENABLED": "false"}) == {"NOTEBOOK_TERMINALS_ENABLED": False}
    for app in apps:
        app.extensions["notebook"].shutdown_all()
