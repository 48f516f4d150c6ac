"""NOTEBOOK_MAX_KERNELS_PER_USER on a real site with several users: counted when a start is
asked for, so starts at the same moment never pass it together."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ..support.server import Server
from ..support.waiting import wait_for
from .conftest import HostSite

pytestmark = pytest.mark.live


def _refused(response: Any) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    body = response.json()
    assert "(2)" in body["message"] and "NOTEBOOK_MAX_KERNELS_PER_USER" in body["message"], body
    assert body["reason"] == "user kernel limit reached"


def test_twenty_concurrent_starts_give_exactly_the_users_limit(start_site: Callable[..., HostSite]) -> None:
    site = start_site(max_kernels_per_user=2)
    alice, bob = site.user("alice"), site.user("bob")
    with ThreadPoolExecutor(20) as threads:
        responses = list(threads.map(lambda _: alice.request("POST", "api/kernels", json={}), range(20)))
    started = [r for r in responses if r.status_code == 201]
    assert len(started) == 2, [(r.status_code, r.text[:80]) for r in responses]
    for response in responses:
        if response.status_code != 201:
            _refused(response)
    assert len(alice.api("GET", "kernels", 200)) == 2
    # Another user is not affected by alice's kernels.
    bob_kernel = bob.start_kernel()
    # A kernel shut down makes room for one more, and one only.
    alice.api("DELETE", f"kernels/{started[0].json()['id']}", 204)
    alice.start_kernel()
    _refused(alice.request("POST", "api/kernels", json={}))
    bob.api("DELETE", f"kernels/{bob_kernel}", 204)


def test_sessions_and_rest_executions_count_toward_the_limit(start_site: Callable[..., HostSite]) -> None:
    site = start_site(max_kernels_per_user=2)
    alice = site.user("alice")
    alice.api("POST", "sessions", 201, json={"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    alice.start_kernel()
    _refused(alice.request("POST", "api/sessions",
                           json={"path": "b.ipynb", "type": "notebook", "kernel": {"name": "python3"}}))
    # /api/execute's throw-away kernel is a kernel too: otherwise it would get around the limit.
    _refused(alice.request("POST", "api/execute", json={"code": "1"}))
    # A session that joins a kernel the user has already starts none.
    kernel_id = alice.api("GET", "kernels", 200)[0]["id"]
    alice.api("POST", "sessions", 201, json={"path": "c.ipynb", "type": "notebook", "kernel": {"id": kernel_id}})


def test_a_pooled_kernel_counts_from_its_hand_out(start_site: Callable[..., HostSite]) -> None:
    site = start_site(max_kernels_per_user=1, kernel_pool={"python3": 1})
    alice, bob = site.user("alice"), site.user("bob")
    wait_for(lambda: alice.api("GET", "kernel_pool", 200)["python3"]["ready"] == 1, timeout=60)
    # Waiting in the pool, the kernel is no one's: alice's one kernel is that one.
    alice.start_kernel()
    assert "taken from the pool" in site.log()
    refused = alice.request("POST", "api/kernels", json={})
    assert refused.status_code == 403, refused.text
    assert "(1)" in refused.json()["message"]
    bob.start_kernel()


def test_the_servers_own_user_is_not_limited(make_server: Callable[..., Server]) -> None:
    """The token is the operator (one fresh identity per token login, too): the server-wide
    NOTEBOOK_MAX_KERNELS bounds it, not the per-user limit."""
    srv = make_server(env={"NOTEBOOK_MAX_KERNELS_PER_USER": "1"})
    for _ in range(2):
        srv.start_kernel()


def test_administrators_are_limited_too(start_site: Callable[..., HostSite]) -> None:
    """An administrator's role is about what they may see and manage, not about how much of
    the machine they may hold: a host's administrators count like everyone else."""
    site = start_site(max_kernels_per_user=1)
    admin = site.user("admin-carol")
    admin.start_kernel()
    assert admin.request("POST", "api/kernels", json={}).status_code == 403
