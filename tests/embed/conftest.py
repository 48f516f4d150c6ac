"""The example site (``examples/embedded_site``) as a real server, and its users
(tests/support/site.py).

Fixtures
--------
``site`` (module scope)
    ``python examples/embedded_site/app.py`` in a subprocess on 127.0.0.1 (``PORT=0``), with
    its own Jupyter directories and a ``python3`` kernelspec. ``site.url`` ends in "/".
    Teardown stops it with SIGTERM and checks that its kernels are gone.
``start_site`` (function scope)
    Starts more sites, e.g. ``start_site("gunicorn")``: the same app under gunicorn's
    gevent worker.
``ada`` (function scope)
    A ``requests.Session`` logged in through the site's form as ada, holding the site's
    session cookie and the notebook's ``_xsrf`` cookie. ``ada.xsrf`` is the header to send
    with unsafe requests. Teardown deletes the sessions the test started.

A failing test's report carries the site's log (root conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..support.process import stop_and_check
from ..support.site import Site, User


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    srv = Site(tmp_path_factory.mktemp("site"))
    yield srv
    stop_and_check(srv)


@pytest.fixture
def start_site(tmp_path: Path) -> Iterator[Callable[[str], Site]]:
    sites: list[Site] = []

    def start(server: str) -> Site:
        srv = Site(tmp_path / f"site-{len(sites)}", server)
        sites.append(srv)
        return srv

    yield start
    for srv in sites:
        stop_and_check(srv)


@pytest.fixture
def ada(site: Site) -> Iterator[User]:
    user = site.login()
    yield user
    user.close()  # its WebSockets first
    for session in user.api("GET", "sessions", 200):
        user.api("DELETE", f"sessions/{session['id']}", 204)
    for kernel in user.api("GET", "kernels", 200):
        user.api("DELETE", f"kernels/{kernel['id']}", 204)
