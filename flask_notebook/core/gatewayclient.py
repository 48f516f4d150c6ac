"""The client side of the gateway protocol: REST calls and the kernel WebSocket, under gevent.

A Jupyter Enterprise Gateway (or Kernel Gateway) serves jupyter_server's kernel and
kernelspec API; this is what jupyter_server 2.21's ``GatewayClient`` sends it: every request
carries ``Authorization: token <t>`` and the configured headers, and each kernel's channels
are one WebSocket, ``/api/kernels/<id>/channels``, speaking the legacy JSON protocol.

Sockets are gevent's own (``gevent.socket``, ``gevent.ssl``), whether or not the process is
patched, so a slow or silent gateway holds up only the greenlet that asked, and never longer
than the connect timeout to connect and the request timeout to answer.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import gevent
import orjson
from gevent import socket as gsocket
from gevent import ssl as gssl

from . import errors

log = logging.getLogger(__name__)

#: jupyter_server's GatewayClient keeps KERNEL_LAUNCH_TIMEOUT this much below the request timeout.
LAUNCH_TIMEOUT_PAD = 2.0


class GatewayError(errors.NotebookError):
    """The gateway answered with an error (`status`: its HTTP status)."""

    def __init__(self, message: str, *, status: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.status = status


class Unreachable(errors.Unavailable):
    """The gateway could not be reached, or did not answer in time."""


class UpstreamSocket(Protocol):
    """A client WebSocket after its handshake (``transport.wsclient.WebSocket``)."""

    closed: bool

    def send(self, data: str | bytes) -> None:
        """:raises OSError: the socket is gone."""

    def messages(self) -> list[str | bytes]:
        """The next complete messages (at least one); [] once the connection has ended."""

    def close(self) -> None: ...


#: Makes a WebSocket of a connected socket: (socket, host, path, headers). The handshake is the
#: transport's (``transport.wsclient.handshake``): ``core`` knows no WebSocket library.
#: :raises OSError: failed; with a ``status`` attribute, refused by the server.
OpenWebSocket = Callable[[Any, str, str, list[tuple[str, str]]], UpstreamSocket]


class GatewayClient:
    """Where the gateway is and how to talk to it (the ``NOTEBOOK_GATEWAY_*`` settings)."""

    def __init__(self, url: str, *, token: str | None = None, headers: dict[str, str] | None = None,
                 validate_cert: bool = True, ca_certs: str | None = None, client_cert: str | None = None,
                 client_key: str | None = None, connect_timeout: float = 40.0, request_timeout: float = 42.0,
                 open_websocket: OpenWebSocket | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.headers = dict(headers or {})
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.client_cert = client_cert
        self.client_key = client_key
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.open_websocket = open_websocket
        parts = urlsplit(self.url)
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._ssl: Any = self._ssl_context() if parts.scheme == "https" else None

    def _ssl_context(self) -> Any:
        context = gssl.create_default_context(cafile=self.ca_certs)
        if not self.validate_cert:
            context.check_hostname = False
            context.verify_mode = gssl.CERT_NONE
        if self.client_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    @property
    def launch_timeout(self) -> int:
        """``KERNEL_LAUNCH_TIMEOUT``: what the gateway may take to start a kernel, in seconds."""
        return max(int(self.request_timeout - LAUNCH_TIMEOUT_PAD), 1)

    def request_headers(self) -> list[tuple[str, str]]:
        headers = [(name, value) for name, value in self.headers.items()]
        if self.token:
            headers.append(("Authorization", f"token {self.token}"))
        return headers

    def path(self, *segments: str) -> str:
        return self._prefix + "".join("/" + quote(s, safe="") for s in segments)

    def connect(self) -> Any:
        """A connected socket to the gateway (TLS when https).

        :raises Unreachable: nothing answered within the connect timeout.
        """
        host, port = self._host, self._port
        try:
            sock = gsocket.create_connection((host, port), timeout=self.connect_timeout)
        except TimeoutError:
            raise Unreachable(f"The kernel gateway {self.url} did not accept a connection within "
                              f"{self.connect_timeout:g} s (NOTEBOOK_GATEWAY_CONNECT_TIMEOUT)",
                              reason="gateway unreachable") from None
        except OSError as exc:
            raise Unreachable(f"The kernel gateway {self.url} cannot be reached: {exc.strerror or exc}",
                              reason="gateway unreachable") from None
        # Small messages (an execute request) go at once, not after the peer's delayed ACK.
        sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
        # A gateway that vanishes without a word (a host gone, a black-holed route) ends a
        # long-lived WebSocket within about a minute, not never.
        _keepalive(sock)
        if self._ssl is not None:
            try:
                sock = self._ssl.wrap_socket(sock, server_hostname=host)
            except TimeoutError:
                sock.close()
                raise Unreachable(f"The kernel gateway {self.url} did not complete the TLS handshake within "
                                  f"{self.connect_timeout:g} s (NOTEBOOK_GATEWAY_CONNECT_TIMEOUT)",
                                  reason="gateway unreachable") from None
            except OSError as exc:  # ssl.SSLError is one
                sock.close()
                raise self._tls_failed(exc) from None
        sock.settimeout(self.request_timeout)
        return sock

    def _tls_failed(self, exc: OSError) -> Unreachable:
        """The error for a failed TLS handshake, with the setting that may cure it."""
        code = str(getattr(exc, "reason", None) or "")
        if isinstance(exc, gssl.SSLCertVerificationError):
            what = f"certificate verify failed: {exc.verify_message}"
            hint = (" (the gateway's certificate is not signed by a CA this server trusts: NOTEBOOK_GATEWAY_CA_CERTS "
                    "names the CA file; NOTEBOOK_GATEWAY_VALIDATE_CERT=false skips the check)")
        else:
            what = code or str(exc)
            hint = ""
            if any(word in code for word in ("CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "BAD_CERTIFICATE",
                                             "UNKNOWN_CA")):
                hint = (" (if the gateway asks for a client certificate: NOTEBOOK_GATEWAY_CLIENT_CERT and "
                        "NOTEBOOK_GATEWAY_CLIENT_KEY; " + ("this server sent one it refused)" if self.client_cert
                                                          else "none is set)"))
        return Unreachable(f"TLS with the kernel gateway {self.url} failed: {what}{hint}", reason="gateway TLS failed")

    def request(self, method: str, path: str, body: Any = None, *, timeout: float | None = None,
                raw: bool = False) -> Any:
        """The gateway's answer to one request: its JSON (None for 204), or its bytes and
        content type when `raw`.

        :raises Unreachable: not reached, or no answer within the request timeout (`timeout`).
        :raises GatewayError: an error status; its message is the gateway's.
        """
        sock = self.connect()
        limit = timeout if timeout is not None else self.request_timeout
        sock.settimeout(limit)
        conn = http.client.HTTPConnection(self._host, self._port)
        conn.sock = sock  # connected (and wrapped) above, by gevent's sockets
        headers = dict(self.request_headers())
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        # The socket's timeout bounds each read; this bounds the whole answer (a gateway that
        # trickles a byte at a time).
        deadline = gevent.Timeout(limit, TimeoutError())
        deadline.start()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except TimeoutError:
            raise Unreachable(f"The kernel gateway {self.url} did not answer {method} {path} within "
                              f"{limit:g} s (NOTEBOOK_GATEWAY_REQUEST_TIMEOUT)", reason="gateway timeout") from None
        except gssl.SSLError as exc:  # TLS 1.3: a refused client certificate shows on the first read
            raise self._tls_failed(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"The kernel gateway {self.url} failed during {method} {path}: {exc}",
                              reason="gateway unreachable") from None
        finally:
            deadline.close()
            conn.close()
        if response.status >= 400:
            raise GatewayError(_error_message(self.url, method, path, response.status, payload),
                               status=response.status, reason=f"gateway error {response.status}")
        if raw:
            return payload, response.getheader("Content-Type") or "application/octet-stream"
        if response.status == 204 or not payload:
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise GatewayError(f"The kernel gateway {self.url} answered {method} {path} with something "
                               "that is not JSON", status=502, reason="gateway error") from None

    def websocket(self, path: str) -> UpstreamSocket:
        """An open WebSocket to `path` on the gateway (its handshake: `open_websocket`).

        :raises Unreachable: not reached.
        :raises GatewayError: the gateway refused the handshake.
        """
        if self.open_websocket is None:
            raise RuntimeError("GatewayClient has no open_websocket")
        sock = self.connect()
        try:
            ws = self.open_websocket(sock, self._netloc, path, self.request_headers())
        except gssl.SSLError as exc:
            sock.close()
            raise self._tls_failed(exc) from None
        except OSError as exc:
            sock.close()
            status = getattr(exc, "status", None)
            if isinstance(status, int):
                raise GatewayError(f"The kernel gateway {self.url} refused the WebSocket {path} ({status})",
                                   status=status, reason="gateway refused") from None
            raise Unreachable(f"The kernel gateway {self.url} failed to open the WebSocket {path}: {exc}",
                              reason="gateway unreachable") from None
        sock.settimeout(None)
        return ws


def _keepalive(sock: Any) -> None:
    """TCP keepalive: probes after 30 s of silence, every 10 s, 3 unanswered end the connection."""
    sock.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(gsocket, option):
            sock.setsockopt(gsocket.IPPROTO_TCP, getattr(gsocket, option), value)


def _error_message(url: str, method: str, path: str, status: int, payload: bytes) -> str:
    message = ""
    try:
        body = orjson.loads(payload)
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("reason") or "")
    except orjson.JSONDecodeError:
        pass
    return f"The kernel gateway {url} answered {method} {path} with {status}" + (f": {message}" if message else "")
