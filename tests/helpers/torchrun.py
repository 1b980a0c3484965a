"""What a failed torchrun test shows: the launcher's output and every rank's, whole."""

from __future__ import annotations

import subprocess
from pathlib import Path


def torchrun_report(done: subprocess.CompletedProcess, log_dir: Path) -> str:
    """The launcher's exit code and stderr, then each rank's own stdout and stderr files
    (torchrun --log-dir DIR --tee 3 keeps them), none of it cut short."""
    parts = [f"torchrun exited {done.returncode}", "--- launcher stderr ---", done.stderr]
    for log in sorted(Path(log_dir).rglob("std*.log")):
        parts += [f"--- {log.relative_to(log_dir)} ---", log.read_text(errors="replace")]
    return "\n".join(parts)
