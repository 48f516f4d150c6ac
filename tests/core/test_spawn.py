"""Kernel processes (`core.spawn.KernelProcess`): started by ``os.posix_spawn`` under gevent's
monkey-patching, with their exit status right whoever reaps them; and the registry's
provisioner uses them exactly when gevent has patched ``subprocess``.

Each case runs in a fresh interpreter, patched as the server is (or not, as an embedding
site may be), and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, os, signal, subprocess, sys
    import gevent
    from flask_notebook.core.spawn import KernelProcess

    gevent.sleep(0)  # the hub exists, as in the server: gevent's os.close then defers
    out = {}
    child = [sys.executable, "-c"]

    def timeout(seconds):
        return gevent.Timeout(seconds, RuntimeError(f"no exit within {seconds} s"))

    # exit code, working directory, environment, new session, stdin at end of file
    p = KernelProcess(child + ["import os, sys; print(os.getcwd(), os.environ['MARK'], os.getsid(0) == os.getpid(), "
                               "repr(sys.stdin.read())); sys.exit(3)"],
                      cwd=sys.argv[1], env={**os.environ, "MARK": "m1"}, start_new_session=True,
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    with timeout(20):
        out["result"] = p.result.get()
    out["stdout"] = p.stdout.read().decode().split()
    out["exit"] = [p.returncode, p.poll(), p.wait()]

    # killed by a signal; wait() with a timeout first times out
    p = KernelProcess(child + ["import time; time.sleep(60)"], start_new_session=True)
    try:
        p.wait(timeout=0.2)
        out["timed_out"] = False
    except subprocess.TimeoutExpired:
        out["timed_out"] = True
    out["poll_alive"] = p.poll()
    os.kill(p.pid, signal.SIGKILL)
    with timeout(20):
        out["killed"] = p.wait()

    # gevent's own Popen alongside: libev reaps every child, ours still gets its status
    q = subprocess.Popen(child + ["import sys; sys.exit(5)"])
    p = KernelProcess(child + ["import sys; sys.exit(7)"])
    with timeout(20):
        out["alongside"] = [q.wait(), p.wait()]

    # a program that does not exist, a working directory that does not exist
    for name, args, kw in (("no_program", ["/nonexistent/program"], {}),
                           ("no_cwd", child + ["pass"], {"cwd": "/nonexistent/dir"})):
        try:
            KernelProcess(args, **kw)
            out[name] = None
        except OSError as exc:
            out[name] = type(exc).__name__
    print(json.dumps(out))
""")


def run_json(script: str, *args: str) -> Any:
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_kernel_process_under_gevent(tmp_path: Path) -> None:
    out = run_json(SCRIPT, str(tmp_path))
    assert out["result"] == 3
    assert out["stdout"] == [str(tmp_path), "m1", "True", "''"]
    assert out["exit"] == [3, 3, 3]
    assert out["timed_out"] is True and out["poll_alive"] is None
    assert out["killed"] == -9
    assert out["alongside"] == [5, 7]
    assert out["no_program"] == "FileNotFoundError"
    assert out["no_cwd"] == "FileNotFoundError"


LAUNCH = textwrap.dedent("""
    import json, os, signal, subprocess, sys, time
    if sys.argv[2].startswith("patched"):
        from gevent import monkey
        monkey.patch_all()
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from flask_notebook.core import provisioner

    specs = KernelSpecManager(kernel_dirs=[sys.argv[1]])
    km = KernelManager(kernel_name="sleeper", kernel_spec_manager=specs,
                       connection_file=os.path.join(sys.argv[1], "kernel-t.json"))
    km.provisioner = provisioner.factory().create_provisioner_instance("t", km.kernel_spec, parent=km)
    extra = {"stdout": subprocess.DEVNULL} if sys.argv[2] == "patched-stdout" else {}
    km.start_kernel(cwd=sys.argv[1], env=dict(os.environ), **extra)
    process = km.provisioner.process
    out = {"class": type(process).__name__, "module": type(process).__module__,
           "session": os.getsid(process.pid) == process.pid, "parent": None}
    with open(f"/proc/{process.pid}/environ", "rb") as f:
        env = dict(item.split(b"=", 1) for item in f.read().split(b"\\0") if b"=" in item)
    out["parent"] = env.get(b"JPY_PARENT_PID", b"").decode() == str(os.getpid())
    # Shut down only once the sleeper ignores SIGINT (bit 2 of its SigIgn mask): a SIGINT that
    # came while its Python was still starting would end it (-2), where the SIGKILL should.
    deadline = time.monotonic() + 30
    while True:
        with open(f"/proc/{process.pid}/status") as f:
            ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
        if ignored & (1 << (signal.SIGINT - 1)):
            break
        assert time.monotonic() < deadline, "the sleeper never came to ignore SIGINT"
        time.sleep(0.01)
    km.shutdown_kernel(now=True)
    out["returncode"] = process.poll()
    print(json.dumps(out))
""")


@pytest.mark.parametrize("mode", ["patched", "unpatched", "patched-stdout"])
def test_the_registry_launches_through_kernel_process_only_under_gevent(mode: str, tmp_path: Path) -> None:
    spec = tmp_path / "sleeper"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        # jupyter_client's shutdown(now=True) interrupts, then kills: a sleeper that ignored
        # nothing could die of the SIGINT first (exit -2) or of the SIGKILL (-9), by timing
        # (LAUNCH waits until it ignores SIGINT).
        "argv": [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)",
                 "{connection_file}"],
        "display_name": "sleeper", "language": "python"}))
    out = run_json(LAUNCH, str(tmp_path), mode)
    if mode == "patched":
        assert (out["module"], out["class"]) == ("flask_notebook.core.spawn", "KernelProcess")
    elif mode == "unpatched":  # the standard library's, jupyter_client's default
        assert (out["module"], out["class"]) == ("subprocess", "Popen")
    else:  # an option KernelProcess's launch does not take: jupyter_client's own, gevent's Popen
        assert (out["module"], out["class"]) == ("gevent.subprocess", "Popen")
    assert out["session"] is True and out["parent"] is True
    assert out["returncode"] == -9
