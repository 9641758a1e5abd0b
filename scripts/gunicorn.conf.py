"""gunicorn settings for Kameng: ``gunicorn -c scripts/gunicorn.conf.py wsgi:app``.

Used by ``scripts/run``, ``scripts/bench`` and the README's production
command, so what is measured is what operators run.

- ``gthread`` workers: a request mostly waits on PostgreSQL and Redis, so
  threads overlap that waiting without the monkey-patching of gevent.
- One worker process per core (``WEB_CONCURRENCY``), each with
  ``WEB_THREADS`` threads (default 8): on 2 cores, more processes only add
  memory and context switches (see the README's benchmark notes).
- Keep-alive connections from the proxy are kept for 5 s.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
threads = int(os.environ.get("WEB_THREADS") or 8)
keepalive = 5
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
