"""The `flask-notebook` command: the standalone server on gevent's WSGI server.

The command line is a stable interface that scripts rely on: the flags below, and a
start-up line on stderr that always shows the real URL with its token.
"""

from __future__ import annotations

import argparse
import errno
import gc
import getpass
import ipaddress
import logging
import os
import signal
import sys
import webbrowser
from typing import Any

from . import limits
from .server import AccessLog, Server

log = logging.getLogger("flask_notebook")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser. The README's table of flags lists each option with its
    default (``tests/test_config_reference.py`` checks)."""
    parser = argparse.ArgumentParser(
        prog="flask-notebook", description="A Jupyter-compatible notebook server.",
        epilog="flask-notebook user {add,remove,passwd} NAME manages the users file (NOTEBOOK_USERS_FILE); "
               "flask-notebook user --help says more.")
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8888, help="port to bind; 0 picks a free one (default 8888)")
    parser.add_argument("--root-dir", default=None, help="directory to serve (default: the current directory)")
    parser.add_argument("--token", default=None, help="access token (default: $NOTEBOOK_TOKEN, else generated)")
    parser.add_argument("--base-url", default=None,
                        help="URL prefix of every route (default NOTEBOOK_BASE_URL, else /)")
    parser.add_argument("--certfile", default=None, help="TLS certificate (PEM); serve https")
    parser.add_argument("--keyfile", default=None, help="TLS private key (PEM)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--allow-remote-access", action="store_true",
                        help="accept any Host header even when bound to loopback")
    parser.add_argument("--trust-proxy", type=int, nargs="?", const=1, default=None, metavar="HOPS",
                        help="believe the X-Forwarded-For/Proto/Host/Prefix headers of this many reverse "
                             "proxies in front of the server (default 1 with the flag, none without it; "
                             "NOTEBOOK_TRUST_PROXY)")
    parser.add_argument("--kernel-pool", default=None, metavar="NAME=N[,NAME=N]",
                        help="keep N kernels of kernelspec NAME started and warm (NOTEBOOK_KERNEL_POOL)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument("--hash-password", action="store_true",
                        help="read a password, print its hash for NOTEBOOK_PASSWORD, and exit")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.certfile) != bool(args.keyfile):
        parser.error("--certfile and --keyfile go together")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number")
    if args.trust_proxy is not None and args.trust_proxy < 0:
        parser.error(f"--trust-proxy {args.trust_proxy} is not a number of proxies")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["user"]:  # `flask-notebook user add|remove|passwd`: the users file
        from .users_cli import main as users_main

        return users_main(argv[1:])
    args = parse_args(argv)
    if args.hash_password:
        return _print_password_hash()
    logging.basicConfig(level=args.log_level.upper(), format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    # Before anything opens a descriptor: kernels (the pool's too) inherit the raised limit.
    before, nofile = limits.raise_open_file_limit()

    from .factory import create_app

    config: dict[str, Any] = {}
    if args.base_url is not None:
        config["NOTEBOOK_BASE_URL"] = args.base_url
    if args.root_dir is not None:
        config["NOTEBOOK_ROOT_DIR"] = os.path.abspath(args.root_dir)
    if args.token is not None:
        config["NOTEBOOK_TOKEN"] = args.token
    if args.kernel_pool is not None:
        config["NOTEBOOK_KERNEL_POOL"] = args.kernel_pool
    if args.trust_proxy is not None:
        config["NOTEBOOK_TRUST_PROXY"] = args.trust_proxy
    if _is_loopback(args.ip) and not args.allow_remote_access:
        config["NOTEBOOK_ALLOW_REMOTE_ACCESS"] = False
    try:
        app = create_app(config)
    except ValueError as exc:
        print(f"flask-notebook: {exc}", file=sys.stderr)
        return 2
    state = app.extensions["notebook"]
    max_connections = _max_connections(state.settings.max_connections, before, nofile)
    ssl_args = {"certfile": args.certfile, "keyfile": args.keyfile} if args.certfile else {}
    server = Server((args.ip, args.port), app, log=AccessLog(), error_log=log, max_connections=max_connections,
                    idle_timeout=state.settings.http_idle_timeout, nofile=nofile,
                    **ssl_args)
    try:
        server.init_socket()
    except OSError as exc:
        state.shutdown_all()
        if exc.errno == errno.EADDRINUSE:
            print(f"flask-notebook: port {args.port} is already in use on {args.ip}; "
                  "choose another with --port (--port 0 picks a free one)", file=sys.stderr)
        else:
            print(f"flask-notebook: cannot listen on {args.ip}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # Everything loaded so far lives as long as the process: keep the collector off it, and
    # collect less often, so parsing a big notebook is not interrupted by full sweeps.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    stopping = _stop_on_signals(server)
    state.shutdown_server = stopping.set  # POST /api/shutdown stops as SIGTERM does
    try:
        server.start()
        url = _url(args, server.server_port, state.token, state.settings.base_url)
        print(f"flask-notebook {_version()} is serving {state.root_dir} at {url}", file=sys.stderr, flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        stopping.wait()
    finally:
        # Kernels first, while the hub is still serving: they get a moment to exit cleanly,
        # in parallel. Then open WebSockets are given a second to close.
        server.close()
        state.shutdown_all()
        server.stop(timeout=1)
    log.info("stopped")
    return 0


def _max_connections(chosen: int | None, before: int, nofile: int) -> int:
    """NOTEBOOK_MAX_CONNECTIONS (`chosen`), or the limit derived from the open-file limit; logged."""
    derived = limits.default_max_connections(nofile)
    raised = f" (raised from {before})" if before != nofile else ""
    if chosen is None:
        log.info("open file limit %d%s: at most %d connections at once", nofile, raised, derived)
        return derived
    log.info("open file limit %d%s: at most %d connections at once (NOTEBOOK_MAX_CONNECTIONS)", nofile, raised,
             chosen)
    if chosen > derived:
        log.warning("NOTEBOOK_MAX_CONNECTIONS=%d leaves kernels fewer descriptors than the %d the open file "
                    "limit (%d) would give them: connections can starve kernels", chosen,
                    nofile - limits.SERVER_DESCRIPTORS - derived, nofile)
    return chosen


def _stop_on_signals(server: Any) -> Any:
    import gevent
    from gevent.event import Event

    stopping = Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stopping.set)
    return stopping


def _url(args: argparse.Namespace, port: int, token: str | None, base_url: str) -> str:
    scheme = "https" if args.certfile else "http"
    host = args.ip if args.ip not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    return f"{scheme}://{host}:{port}{base}" + (f"?token={token}" if token else "")


def _is_loopback(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _print_password_hash() -> int:
    from .core.auth import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("flask-notebook: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("flask-notebook: empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def _version() -> str:
    from . import __version__

    return __version__
