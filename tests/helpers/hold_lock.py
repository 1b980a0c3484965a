"""Hold an exclusive flock on a file until stdin closes: `python hold_lock.py PATH`."""

import fcntl
import sys

with open(sys.argv[1], "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()
