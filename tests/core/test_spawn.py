"""Kernel processes (`core.spawn.KernelProcess`): started by the standard library's C path
even under gevent's monkey-patching, with their exit status right whoever reaps them.

Each case runs in a fresh interpreter, patched as the server is (or not, as an embedding
site may be), and reports what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os, signal, subprocess, sys
    if sys.argv[1] == "patched":
        from gevent import monkey
        monkey.patch_all()
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
                      cwd=sys.argv[2], env={**os.environ, "MARK": "m1"}, start_new_session=True,
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


@pytest.mark.parametrize("mode", ["patched", "unpatched"])
def test_kernel_process(mode: str, tmp_path) -> None:
    run = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["result"] == 3
    assert out["stdout"] == [str(tmp_path), "m1", "True", "''"]
    assert out["exit"] == [3, 3, 3]
    assert out["timed_out"] is True and out["poll_alive"] is None
    assert out["killed"] == -9
    assert out["alongside"] == [5, 7]
    assert out["no_program"] == "FileNotFoundError"
    assert out["no_cwd"] == "FileNotFoundError"

