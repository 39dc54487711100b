"""Run a command and report its own peak RSS: ``python scripts/peak_rss.py OUT CMD ARGS...``.

Writes ``<wall seconds> <peak RSS in bytes>`` of CMD to the file OUT and exits with CMD's
status; CMD's stdout and stderr are left as they are. Why a launcher: a process started
by a large one (pytest, the bench harness) keeps its parent's peak RSS as its own
``ru_maxrss``, across exec and also with posix_spawn's shared memory. CMD is forked from
this small process instead, so its figure is its own.
"""

import os
import sys
import time


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(out, "w") as fh:
        fh.write(f"{seconds} {usage.ru_maxrss * 1024}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
