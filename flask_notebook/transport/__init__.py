"""The WebSocket transport: every byte of our WebSockets after the HTTP request, in one place.

``core`` knows no WebSocket; the views (``blueprints.channels``, ``terminals``, ``events``)
know only ``base.Socket`` and the seam to the relay. Modules, outside in:

- ``upgrade``: the handshake's side. The WSGI server's hand-off of the socket (``handoff``,
  ``PARK``), what is settled before the handshake (``prepare``: compression refused unless
  configured), the greenlet simple-websocket reads with (``GreenThread``), and the socket
  after it (``accept``). The handshake bytes themselves are wsproto's.
- ``base``: ``Socket``, the one interface of a socket after its handshake.
- ``server_socket``: ``ServerSocket``, our framing: parked with no greenlet while idle, one
  frame per kernel message shared by every connection, writes that need not wait.
- ``simple``: ``SimpleSocket``, simple-websocket and wsproto throughout (permessage-deflate;
  the terminals' and events' sockets), every write one ``sendall`` under a lock.
- ``framing``: RFC 6455 frames, built and parsed.
- ``pinger``: ``Pinger``, one per app, pings every socket of the app.
- ``relay``: ``attach(relay, ws, ...)``, a kernel WebSocket as a connection of the kernel's
  relay (``core.channels``).

Importing this package imports none of its modules.
"""
