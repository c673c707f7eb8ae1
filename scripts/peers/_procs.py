#!/usr/bin/env python3
"""Process bookkeeping for scripts/peers/mailman (standard library only).

A process is named by "PID STARTTIME" (STARTTIME from /proc/PID/stat), so a
PID reused by an unrelated process is never taken for ours.

    _procs.py session SID      "PID STARTTIME" of every process in session SID
    _procs.py alive FILE       the lines of FILE whose process still runs
    _procs.py signal SIG FILE  sends signal number SIG to those, prints them
"""

import os
import sys


def stat(pid):
    """(session id, start time) of pid, or None when it is gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 of stat(5): state; session is field 6, starttime 22.
    if fields[0] == "Z":
        return None
    return int(fields[3]), fields[19]


def read_named(path):
    named = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    named.append((int(parts[0]), parts[1]))
    except OSError:
        pass
    return named


def alive(named):
    return [(pid, start) for pid, start in named
            if (stat(pid) or (None, None))[1] == start]


def main(argv):
    if len(argv) == 2 and argv[0] == "session":
        sid = int(argv[1])
        for name in os.listdir("/proc"):
            if name.isdigit():
                s = stat(name)
                if s and s[0] == sid:
                    print(name, s[1])
    elif len(argv) == 2 and argv[0] == "alive":
        for pid, start in alive(read_named(argv[1])):
            print(pid, start)
    elif len(argv) == 3 and argv[0] == "signal":
        for pid, start in alive(read_named(argv[2])):
            try:
                os.kill(pid, int(argv[1]))
                print(pid, start)
            except ProcessLookupError:
                pass
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
