"""What a sandboxed kernel can reach: its own workspace, the shared folders read-only, the
system read-only, and nothing of other users, the server or the host site."""

from __future__ import annotations

import json

from ..support.kernel_client import KernelClient
from .conftest import SECRETS, SandboxSite, run


def test_kernel_cannot_read_another_users_file_by_absolute_path(site: SandboxSite,
                                                               alice_kernel: tuple[str, KernelClient]) -> None:
    bob = site.workspace("bob")
    bob.mkdir(parents=True, exist_ok=True)
    (bob / "diary.txt").write_text("bob's secret")
    _, client = alice_kernel
    out, error = run(client, f"print(open({str(bob / 'diary.txt')!r}).read())")
    assert error == "FileNotFoundError" and "bob's secret" not in out
    out, error = run(client, f"import os; print(os.path.exists({str(site.base / 'users')!r} + '/bob'))")
    assert (out, error) == ("False\n", None)


def test_kernel_works_in_its_owners_workspace(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    _, client = alice_kernel
    out, error = run(client, "import os; open('made-inside.txt', 'w').write('hi'); print(os.getcwd()); "
                             "print(os.environ['HOME'])")
    workspace = str(site.workspace("alice"))
    assert (out, error) == (f"{workspace}\n{workspace}\n", None)
    assert (site.workspace("alice") / "made-inside.txt").read_text() == "hi"


def test_kernel_cannot_write_outside_its_workspace(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    site.workspace("bob").mkdir(parents=True, exist_ok=True)
    targets = ["/usr/lib/planted.py", "/etc/planted", "/planted", str(site.base / "data" / "planted"),
               str(site.root / "planted"), str(site.workspace("bob") / "planted")]
    _, client = alice_kernel
    code = ("import json\nfailed = []\nfor path in %r:\n    try:\n        open(path, 'w').write('x')\n"
            "    except OSError:\n        failed.append(path)\nprint(json.dumps(failed))" % targets)
    out, error = run(client, code)
    assert error is None and json.loads(out) == targets
    # The runtime folder is under /tmp here, so the kernel's path to it is in its private /tmp.
    run(client, f"open({str(site.runtime_dir / 'planted')!r}, 'w')")
    assert not any((site.base / rel).exists() for rel in ("data/planted", "root/planted", "users/bob/planted",
                                                          "runtime/planted"))


def test_kernel_environment_holds_nothing_of_the_host(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    _, client = alice_kernel
    out, error = run(client, "import os, json; print(json.dumps(dict(os.environ)))")
    assert error is None
    env = json.loads(out)
    assert env["COURSE_NAME"] == "cs101"  # NOTEBOOK_KERNEL_ENV
    assert env["HOME"] == str(site.workspace("alice"))
    for value in SECRETS.values():
        assert value not in out
    assert not [key for key in env if key.startswith(("NOTEBOOK_", "JUPYTER_")) or key in SECRETS
                or key in ("JPY_PARENT_PID", "IPYTHONDIR")]


def test_proc_shows_no_process_of_the_server(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    _, client = alice_kernel
    code = ("import os\nfor pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):\n"
            "    print(pid, open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())")
    out, error = run(client, code)
    assert error is None
    lines = out.splitlines()
    assert "host_app.py" not in out and "bwrap" in lines[0]  # the sandbox's init, as PID 1
    assert all("ipykernel" in line for line in lines[1:]), lines  # the kernel (and nothing else)


def test_tmp_is_private_to_each_kernel(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    _, first = alice_kernel
    assert run(first, "open('/tmp/mark', 'w').write('first'); print('ok')") == ("ok\n", None)
    other = site.start_kernel("alice")
    second = site.client("alice", other)
    out, error = run(second, "import os; print(os.path.exists('/tmp/mark'), os.listdir('/tmp'))")
    assert error is None and out.startswith("False ")
    second.close()
    site.api("alice", "DELETE", f"kernels/{other}", 204)


def test_shared_folders_are_readable_not_writable(site: SandboxSite, alice_kernel: tuple[str, KernelClient]) -> None:
    _, client = alice_kernel
    shared = str(site.workspace("alice") / "course")
    assert run(client, f"print(open({shared!r} + '/table.csv').read(), end='')") == ("a,b\n1,2\n", None)
    assert run(client, f"open({shared!r} + '/table.csv', 'a').write('3,4')")[1] == "OSError"
    assert run(client, f"open({shared!r} + '/new.txt', 'w')")[1] == "OSError"
    assert (site.shared / "table.csv").read_text() == "a,b\n1,2\n" and not (site.shared / "new.txt").exists()


def test_a_kernelspec_naming_an_unconfined_provisioner_is_refused(site: SandboxSite) -> None:
    body = site.api("alice", "POST", "kernels", 500, json={"name": "unconfined"})
    assert "runs kernels unconfined, and the kernel sandbox is on (NOTEBOOK_KERNEL_SANDBOX)" in body["message"]
    assert site.api("alice", "GET", "kernels", 200) == []


def test_a_link_where_a_shared_folder_goes_leaves_the_folder_out(site: SandboxSite) -> None:
    """bwrap would follow the owner's link (or fail on it, and the kernel would never start)."""
    workspace = site.workspace("bob")
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "course").symlink_to("/oldroot/tmp/made-by-a-link")
    kernel_id = site.start_kernel("bob")
    client = site.client("bob", kernel_id)
    assert run(client, "import os; print(os.readlink('course'))") == ("/oldroot/tmp/made-by-a-link\n", None)
    client.close()
    site.api("bob", "DELETE", f"kernels/{kernel_id}", 204)
    assert "shared folder 'course' not shown in a sandbox" in site.log()
