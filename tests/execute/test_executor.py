"""The executor against a real kernel, in this process, with the scheduling forced.

On a busy machine the server can lose the CPU between sending a request and draining the
shell socket; by the time it drains, the reply is there, and it is taken inside the send.
Here every send waits for the kernel's answer before it returns, so that case always happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from jupyter_client.manager import KernelManager

from flask_notebook.core.channels import KernelChannels
from flask_notebook.core.execute import Execution, Executor, Options
from flask_notebook.core.kernels import Kernel


class SlowServerChannels(KernelChannels):
    """A relay whose sends are followed by a drain that finds the kernel's answer already there."""

    def _after_send(self, channel: str, sock: Any) -> None:
        if channel == "shell":
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLIN)
            assert poller.poll(30_000), "the kernel did not answer within 30 s"
        super()._after_send(channel, sock)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    km = KernelManager(kernel_name="python3", connection_file=str(tmp_path / "kernel-race.json"))
    km.start_kernel(cwd=str(tmp_path))
    kernel = Kernel("race", "python3", km, str(tmp_path))  # type: ignore[arg-type]
    kernel.channels = SlowServerChannels("race", dict(km.get_connection_info(session=False)),
                                         on_iopub=lambda msg: None, replay_limit=0, replay_sessions=0)
    try:
        assert kernel.channels.ready.wait(60), "the kernel did not answer kernel_info within 60 s"
        yield kernel
    finally:
        kernel.channels.close()
        km.shutdown_kernel(now=True)


def test_a_reply_that_comes_back_inside_the_send_completes_the_request(kernel: Kernel) -> None:
    executor = Executor(kernel, interrupt=lambda: None, ready_timeout=30, queue_limit=1 << 20)
    first = Execution(kernel.id, Options(code="x = 6 * 7", silent=True, store_history=False))
    executor.submit_now(first)  # as the pool sends its hand-out code
    second = Execution(kernel.id, Options(code="print(x)"))
    executor.submit(second)
    assert second.wait_until(lambda: second.done, timeout=30), f"still {second.status} after 30 s"
    assert first.status == "ok"
    assert second.status == "ok" and second.outputs == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
