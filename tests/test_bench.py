"""The reservation bench keeps working (a short run): its figures go in the closing notes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.mark.skipif(not URL.startswith("postgresql"), reason="the reservation bench runs on PostgreSQL")
def test_the_reservation_bench_runs_and_counts_no_error():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reservations_pg.py"), "--url", URL, "--clients", "6",
         "--processes", "2", "--connections", "2", "--offers", "12", "--units", "4", "--warmup", "0.5",
         "--duration", "1.5"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "errors 0" in run.stdout, run.stdout
    committed = int(run.stdout.split("committed ", 1)[1].split(",", 1)[0])
    assert committed > 0, run.stdout
