"""Benchmarks: each figure measured against its goal. ``python -m benchmarks all [--quick]``.

``BENCHMARKS`` maps a benchmark's name to its module. Each module has
``FIGURES`` (the keys it reports, always all of them: a figure it could not
measure is None and a note says why) and ``run(quick: bool) -> Result``.
``benchmarks/README.md`` says what each figure means.
"""

BENCHMARKS: dict[str, str] = {
    "startup": "benchmarks.startup",
    "polling": "benchmarks.polling",
    "responsiveness": "benchmarks.responsiveness",
    "demo_cpu": "benchmarks.demo_cpu",
    "detection": "benchmarks.detection",
    "log": "benchmarks.log_size",
    "crash": "benchmarks.crash",
    "log_faults": "benchmarks.log_faults",
    "memory": "benchmarks.memory",
    "probes": "benchmarks.probe_throughput",
    "scheduler": "benchmarks.scheduler_clock",
    "http_clients": "benchmarks.http_clients",
    "import_fidelity": "benchmarks.import_fidelity",
    "judge": "benchmarks.judge",
    "faults": "benchmarks.faults",
    "serve": "benchmarks.serve_viewers",
}
