"""A site script in a subprocess (the example site, the limits, sandbox and multi-user host
sites): its environment, its start (the "Serving on <url>" line in its log), its log for
failure reports, and its stop (SIGTERM, as systemd or docker stop would send)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from . import logs
from .env import isolated_env
from .kernels import add_kernelspec, kernel_processes
from .waiting import wait_for

#: The argv of the ``python3`` kernelspec every site gets.
PYTHON_KERNEL = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def site_env(base: Path) -> dict[str, str]:
    """The environment of a site under `base`: this process's without its ``NOTEBOOK_*``
    settings, Jupyter directories of its own with a ``python3`` kernelspec, and the notebook
    root ``base/root`` (created here) as NOTEBOOK_ROOT_DIR."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTEBOOK_")}
    env.update(isolated_env(base))
    add_kernelspec(base / "data", "python3", PYTHON_KERNEL)
    (base / "root").mkdir()
    env["NOTEBOOK_ROOT_DIR"] = str(base / "root")
    return env


class SiteProcess:
    """`command` in a subprocess, its output in `log_path`, registered with `logs` while it runs.

    The constructor returns once a line of the log matches `ready` (``self.ready`` is the
    match), within `start_timeout` s; a site that exits first, or is late, is killed and fails
    the test with its log. `title` names it in failure reports."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log_path: Path, *, ready: str,
                 title: str, start_timeout: float = 30, stop_timeout: float = 15) -> None:
        self.env = env
        self.log_path = log_path
        self.title = title
        self.stop_timeout = stop_timeout
        #: Set by `stop` when the site had to be killed.
        self.ignored_sigterm = False
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        logs.started(self)
        pattern = re.compile(ready)
        try:
            self.ready: re.Match[str] = wait_for(lambda: self._ready(pattern), timeout=start_timeout)
        except AssertionError as exc:
            self.kill()
            raise AssertionError(f"the {title} did not start ({exc}):\n{self.log()}") from None

    def _ready(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"it exited with {self.proc.returncode}")
        return pattern.search(self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_title(self) -> str:
        return f"{self.title} log ({self.log_path})"

    @property
    def runtime_dir(self) -> Path:
        return Path(self.env["JUPYTER_RUNTIME_DIR"])

    def stop(self) -> int:
        """SIGTERM; the exit status. A site still running after `stop_timeout` s is killed
        and `ignored_sigterm` set."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.ignored_sigterm = True
        self.kill()  # if it is still running; closes the log either way
        return self.proc.returncode

    def kill(self) -> None:
        """No grace (a site that failed to start, or ignored SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        logs.stopped(self)


def stop_and_check(site: SiteProcess) -> None:
    """Stop `site` as systemd would; it must exit 0 and leave no kernel running."""
    assert site.stop() == 0, site.log()
    wait_for(lambda: not kernel_processes(site.runtime_dir), timeout=15)
