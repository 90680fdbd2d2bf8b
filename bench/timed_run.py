#!/usr/bin/env python3
"""One measured run of a command, for the bench/*.sh scripts (which make the
untimed warm-up run first):

    timed_run.py [--width N] LABEL BYTES CMD...

runs CMD (its output discarded) and prints LABEL (padded to N columns,
default 44), the wall time, BYTES / wall time in MB/s and the peak RSS of the
child (ru_maxrss). A failing CMD prints "LABEL: FAILED (status): its stderr"
and exits 1.
"""

import resource
import subprocess
import sys
import time


def main(args):
    width = 44
    if args[:1] == ["--width"]:
        width, args = int(args[1]), args[2:]
    if len(args) < 3:
        sys.exit(__doc__)
    label, nbytes, cmd = args[0], int(args[1]), args[2:]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if p.returncode != 0:
        print(f"{label}: FAILED ({p.returncode}): {p.stderr.strip()}")
        sys.exit(1)
    print(f"{label:<{width}} {wall:7.3f} s  {nbytes / wall / 1e6:8.0f} MB/s  "
          f"peak RSS {rss:7.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
