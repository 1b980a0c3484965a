"""Peak memory and time to load a large generated corpus, measured in a fresh process.

    python bench/memory.py [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import add_save_flag, emit

# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec.
CHILD = """
import json, sys, time
def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
import numpy
base = kib("VmHWM:")
t = time.perf_counter()
from charrnn_tui.engine.data.sources import load_corpus
c = load_corpus(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "chars": len(c), "vocab": c.vocab_size,
                  "peak_rss_kib": kib("VmHWM:"), "rss_before_kib": base}))
"""


def write_corpus(path: Path, size: int) -> None:
    """Words drawn from a fixed list, with line breaks: plain ASCII, like most corpora."""
    rng = np.random.default_rng(0)
    words = np.array("the of and to in a is that for it as was with be by on not he this "
                     "are or his from at which but have an they you were her she there "
                     "would their we him been has when who will no more if out so said "
                     "what up its about than into them can only other new some could "
                     "time these two may then do first any my now such like our over man "
                     "me even most made after also did many before must through".split())
    with path.open("w") as f:
        written = 0
        while written < size:
            line = " ".join(words[rng.integers(0, len(words), 5000)]) + ".\n"
            f.write(line)
            written += len(line)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=200)
    add_save_flag(p)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        write_corpus(path, args.mb * 1_000_000)
        size = path.stat().st_size
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)],
                             capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    peak = r["peak_rss_kib"] * 1024
    emit({"bench": "memory", "file_bytes": size, "load_seconds": round(r["seconds"], 2),
          "peak_rss_bytes": peak, "peak_rss_over_file": round(peak / size, 2),
          "rss_before_load_bytes": r["rss_before_kib"] * 1024,
          "chars": r["chars"], "vocab": r["vocab"]}, args)


if __name__ == "__main__":
    main()
