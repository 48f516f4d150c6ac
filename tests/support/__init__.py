"""What the tests share, as plain modules: test modules and conftest files import from here,
and conftest files only declare fixtures that call into it.

- ``env``: the project's path, the token every test server gets, isolated Jupyter directories.
- ``waiting``: ``wait_for``, the one way to wait (always with a deadline).
- ``logs``: the logs of the processes a test started, shown when it fails.
- ``responses``: assertions on API error bodies.
- ``server``: ``LiveServer`` (``python -m flask_notebook`` in a subprocess) and ``Server`` (one
  with its own Jupyter directories, and helpers for kernels).
- ``kernels``: kernelspecs to install, the kernel processes a server left.
- ``process``: ``SiteProcess``, a site script in a subprocess (started once its log says it
  listens, stopped with SIGTERM), ``site_env`` and ``stop_and_check``: the base of the host
  sites of tests/limits, tests/sandbox, tests/multiuser and of ``site``.
- ``kernel_client``, ``terminal_client``: small WebSocket clients for kernels and terminals.
- ``events``: the events WebSocket (``/api/events/subscribe``).
- ``execute``: REST execution (``/api/kernels/<id>/execute``) and its Server-Sent Events.
- ``browser``, ``notebook_page``, ``tree_page``: the browser tests' server, notebooks, and helpers
  for the notebook and file-browser pages.
- ``deploy``: gunicorn and nginx in front of the server. ``site``: the embedded-site example.
- ``conformance``: jupyter_server 2.21.1 beside ours.
"""
