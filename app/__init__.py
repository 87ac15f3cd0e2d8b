"""How people and programs reach compensa: the command line, the HTTP service and the web page.

This is the top of the import order (facts <- kb <- engine <- visualize <- app).

* :mod:`compensa.app.cli` — the ``compensa`` command line (``consult``, ``explain``, ``kb``,
  ``serve``, ``schema``, ``demo``); exit status 0, 2 for bad input or usage, 1 for unexpected
  failures.
* :mod:`compensa.app.http` — the HTTP/JSON inference service (FastAPI) and the web page in
  ``static/``; request and response models in :mod:`~compensa.app.schemas`, strict JSON body
  reading in :mod:`~compensa.app.body`, ASGI middleware (request ids, security headers, body limit)
  in :mod:`~compensa.app.middleware`.
* :mod:`compensa.app.server` — runs the service in one or several worker processes, with the slow
  client and overload guards of :mod:`~compensa.app.protocol`; logging in :mod:`~compensa.app.logs`
  and the consultation audit trail in :mod:`~compensa.app.audit`.
* ``samples/`` — the embedded demo case of ``compensa demo``.

All reasoning lives below, in :mod:`compensa.engine` (consultations, reports) and
:mod:`compensa.visualize` (explanations, graphs); this package only reads input, calls them and
writes their results. Every user mistake arrives as a :class:`compensa.errors.CompensaError`.
"""
