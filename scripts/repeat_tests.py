"""Run test files again and again, optionally beside busy processes, keeping every failure.

    python scripts/repeat_tests.py tests/engine/training/test_distributed.py \
        tests/cli/test_elastic.py \
        --runs 15 --busy 1 --logs /tmp/repeat

Each run is a fresh `python -m pytest`; a failing run's whole output is kept in --logs. A
busy process is `while 1: pass`, started before the first run and ended after the last.
Prints one JSON line: runs, failures, the busy count and the kept logs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--busy", type=int, default=0, help="busy processes beside the runs")
    parser.add_argument("--logs", type=Path, default=Path("repeat-logs"))
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"])
            for _ in range(args.busy)]
    failures, seconds = [], []
    try:
        for i in range(1, args.runs + 1):
            start = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   *args.tests], capture_output=True, text=True)
            seconds.append(round(time.monotonic() - start, 1))
            if done.returncode != 0:
                log = args.logs / f"run-{i}.log"
                log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
                failures.append(str(log))
            print(f"run {i}: exit {done.returncode} in {seconds[-1]} s", file=sys.stderr,
                  flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(json.dumps({"tests": args.tests, "runs": args.runs, "failed": len(failures),
                      "busy": args.busy, "seconds": seconds, "logs": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
