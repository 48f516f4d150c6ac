"""Run by ``test_reply_race.py`` in a process of its own, gevent-patched as the server is:
REST executions on a real kernel through the real relay, with every send made slow.

The relay drains a socket right after each send (``KernelChannels._after_send``), so a
kernel that answers quickly has its reply dispatched *inside* the executor's send. On a
loaded machine that happens by itself now and then (the server is descheduled between the
send and the drain); a drain that starts only once the kernel's answer is waiting on the
socket makes it happen every time. The scenario (argument) is
``execute`` (the execute_reply comes back inside the execute_request's send) or ``input``
(the second input_request inside the first input_reply's send). Prints one JSON line of
results. (In the test process itself, jupyter_client's event loops would outlive the test.)
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from flask_notebook.core.execute import Execution, Executions, Options  # noqa: E402
from flask_notebook.core.kernels import KernelRegistry  # noqa: E402
from flask_notebook.core.kernelspecs import Kernelspecs  # noqa: E402
import zmq  # noqa: E402


def wait_for_answer(sock: Any, timeout_ms: int = 30_000) -> None:
    """Until the kernel's answer waits on `sock`. pyzmq's own poller, not gevent's: no other
    greenlet runs meanwhile, so the answer is read by the relay's drain after the send, as on
    a server that was descheduled right after sending."""
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    if not poller.poll(timeout_ms):
        raise TimeoutError(f"the kernel did not answer within {timeout_ms / 1000} s")


def finished(execution: Execution, status: str = "", timeout: float = 20) -> dict[str, Any]:
    execution.wait_until(lambda: execution.done or execution.status == status, timeout=timeout)
    return execution.record()


def main(scenario: str) -> None:
    registry = KernelRegistry(Kernelspecs(default_name="python3"))
    executions = Executions(interrupt=lambda kernel_id: None, ready_timeout=60, queue_limit=1 << 20)
    kernel = registry.start_kernel("python3", cwd=os.getcwd())
    results: dict[str, Any] = {}
    try:
        assert kernel.channels is not None and kernel.channels.ready.wait(60), "no kernel_info_reply"
        relay = kernel.channels
        drain_after_send = relay._after_send
        slow = {"on": False}
        forced = [0]

        # At the relay's drain after each send, however the send itself is made.
        def wait_then_drain(channel: str, sock: Any) -> None:
            if slow["on"]:
                wait_for_answer(sock)  # the whole process waits, as if descheduled
                forced[0] += 1
            drain_after_send(channel, sock)

        relay._after_send = wait_then_drain  # type: ignore[method-assign]

        if scenario == "execute":
            slow["on"] = True
            results["execute"] = finished(executions.submit(kernel, Options(code="6 * 7")))
        else:
            asking = executions.submit(kernel, Options(code="a = input('a? ')\nb = input('b? ')\nprint(a + b)"))
            results["first_input"] = finished(asking, "input_required")
            slow["on"] = True
            executions.answer(asking, "4")
            results["second_input"] = finished(asking, "input_required")
            slow["on"] = False
            if asking.status == "input_required":
                executions.answer(asking, "2")
            results["answered"] = finished(asking)
        results["forced"] = forced[0]  # how many drains found the answer already waiting
    finally:
        registry.shutdown_all()
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
