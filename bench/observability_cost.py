"""What one metric sample and one log line cost, in the processes' own modes.

    python -m bench.observability_cost [--n 100000]

Per operation, in a child process each (prometheus_client reads its mode at import):
a counter increment and a histogram observation in multiprocess mode (a sample
file under a temp dir, as every Facet process writes) and in memory (the
--observability off of bench.ingest), and one log record through Facet's
context filter and JSON formatter (and its console one) into a discarded
stream. Multiplied by what a processed photo does (at most about 100 metric
operations over web and worker, django-prometheus's per-query counters included,
and a few log lines), the cost per photo can be set beside bench.ingest's CPU
ms per image.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_METRICS = """
import json, sys, time
from prometheus_client import Counter, Histogram
n = int(sys.argv[1])
c = Counter("facet_bench", "x", ["outcome"]).labels("done")
h = Histogram("facet_bench_seconds", "x", ["kind"]).labels("image")
t = time.perf_counter()
for _ in range(n): c.inc()
inc = (time.perf_counter() - t) / n
t = time.perf_counter()
for i in range(n): h.observe(i % 100 / 50)
obs = (time.perf_counter() - t) / n
print(json.dumps({"inc_us": inc * 1e6, "observe_us": obs * 1e6}))
"""

_LOGS = """
import io, json, logging, sys, time
import django
django.setup()
from tenants.log import ConsoleFormatter, JsonFormatter, TenantContextFilter, bound
n = int(sys.argv[1])
out = {}
for name, formatter in (("json", JsonFormatter()), ("console", ConsoleFormatter())):
    handler = logging.StreamHandler(io.StringIO())
    handler.addFilter(TenantContextFilter())
    handler.setFormatter(formatter)
    log = logging.getLogger("bench." + name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    with bound(request_id="r" * 32, schema_name="t_bench", task_name="x.y", task_id="q"):
        t = time.perf_counter()
        for i in range(n):
            log.info("%s %s %s %.1fms", "POST", "/api/v1/media/", 201, 12.5,
                     extra={"method": "POST", "status": 201, "duration_ms": 12.5})
        out[name + "_line_us"] = (time.perf_counter() - t) / n * 1e6
    handler.stream = io.StringIO()
print(json.dumps(out))
"""


def _child(code: str, n: int, env: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, str(n)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="facet-bench-metrics-") as directory:
        multi = _child(_METRICS, args.n, {**base, "PROMETHEUS_MULTIPROC_DIR": directory})
    memory = _child(_METRICS, args.n, base)
    with tempfile.TemporaryDirectory(prefix="facet-bench-var-") as var:
        logs = _child(
            _LOGS,
            max(args.n // 10, 1000),
            {**base, "DJANGO_SETTINGS_MODULE": "config.settings.local", "FACET_VAR_DIR": var},
        )
    print(f"python {sys.version.split()[0]}, {args.n} operations each")
    print(
        f"counter inc: multiprocess {multi['inc_us']:.2f} us, in memory {memory['inc_us']:.2f} us"
    )
    print(
        f"histogram observe: multiprocess {multi['observe_us']:.2f} us, "
        f"in memory {memory['observe_us']:.2f} us"
    )
    print(
        f"log line with context: json {logs['json_line_us']:.1f} us, "
        f"console {logs['console_line_us']:.1f} us"
    )
    per_photo_us = 100 * multi["observe_us"] + 5 * logs["json_line_us"]
    print(f"per photo (100 metric operations + 5 JSON lines): {per_photo_us / 1000:.3f} ms of CPU")


if __name__ == "__main__":
    main()
