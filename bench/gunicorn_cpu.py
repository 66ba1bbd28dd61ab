"""gunicorn settings for the benches: CPU time of each request in the worker, by kind of request.

Loaded with `gunicorn -c bench/gunicorn_cpu.py` next to the settings of docs/DEPLOY.md. A sync
worker serves one request at a time, so the worker's CPU time between `pre_request` and
`post_request` is that request's (the WSGI call and writing the response). When the worker exits,
it writes the totals of the requests sent with `X-Bench-Phase: measure` to `$BENCH_CPU_DIR/<pid>.json`: {kind: [requests, cpu seconds]}.
"""

import json
import os
import re
import time

_KINDS = [
    (re.compile(r"^/offer/[^/]+$"), "/offer/<key>"),
    (re.compile(r"^/reserve/offer/[^/]+$"), "/reserve/offer/<key>"),
    (re.compile(r"^/reserve/confirmation/[^/]+$"), "/reserve/confirmation/<number>"),
]


def _kind(method: str, path: str) -> str:
    for pattern, name in _KINDS:
        if pattern.match(path):
            return f"{method} {name}"
    return f"{method} {path}"


def pre_request(worker, req):
    worker.bench_cpu_began = time.process_time()


def post_request(worker, req, environ, resp):
    if environ.get("HTTP_X_BENCH_PHASE") != "measure":
        return  # warm-up requests (templates compiled, connections opened) are not counted
    spent = time.process_time() - getattr(worker, "bench_cpu_began", time.process_time())
    totals = worker.__dict__.setdefault("bench_cpu", {})
    entry = totals.setdefault(_kind(req.method, req.path), [0, 0.0])
    entry[0] += 1
    entry[1] += spent


def worker_exit(server, worker):
    folder = os.environ.get("BENCH_CPU_DIR")
    if folder:
        with open(os.path.join(folder, f"{worker.pid}.json"), "w") as out:
            json.dump(getattr(worker, "bench_cpu", {}), out)
