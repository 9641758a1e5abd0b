"""gunicorn settings for Kameng: ``gunicorn -c scripts/gunicorn.conf.py wsgi:app``.

Used by ``scripts/run``, ``scripts/bench`` and the README's production
command, so what is measured is what operators run.

- ``gthread`` workers: a request mostly waits on PostgreSQL and Redis, so
  threads overlap that waiting without the monkey-patching of gevent.
- Two worker processes per core (``WEB_CONCURRENCY``), each with
  ``WEB_THREADS`` threads (default 4). A request is mostly Python (ORM,
  templates) holding the GIL, so threads of one process queue for it: on
  the 2-core benchmark machine, 4 x 4 served 38 checkouts/s, 450 product
  pages/s and 270 product lists/s where 2 x 8 served 26-31, 350-364 and
  137-190 (``scripts/bench checkout storefront --quick``, same machine).
- Keep-alive connections from the proxy are kept for 5 s.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
threads = int(os.environ.get("WEB_THREADS") or 4)
keepalive = 5
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None

# /metrics adds up every worker's counts (prometheus_client's multiprocess
# mode): each process writes its figures to files in this folder. Set here,
# before any worker imports the app, and emptied when the server starts so
# a restart does not count the last run's requests.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kameng-metrics-")


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Move everything the app built at start-up (modules, templates, the
    OpenAPI document, locale data) out of the garbage collector's view: the
    collector then never walks it again, neither during requests nor in the
    full collection at exit, which otherwise held a worker for seconds after
    Ctrl-C or a deploy's SIGTERM."""
    import gc

    gc.freeze()
    _return_large_blocks()


def _return_large_blocks():
    """Hand large freed blocks back to the system at once. glibc raises its
    mmap threshold to the largest block freed (up to 32 MiB): after one
    password hash (argon2's 19 MiB) every later one comes from a thread's
    arena, and each of a worker's threads kept its 19 MiB resident (web
    workers at ~196 MB after 32 sign-ins, ~120 MB without). A fixed
    threshold keeps such blocks mmapped, and unmapped when freed."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
    except (OSError, AttributeError):  # not glibc: its own allocator's rules apply
        pass
