"""The on-disk record of a testbed: what `up` made, so `down` can undo it.

`up` writes the full plan (every name it is about to create) BEFORE creating
anything, with phase "creating"; it flips to "up" at the end. So after a crash
at any point, `down` finds every resource by name, and `up` can tell a live
testbed from leftovers. The lock keeps two CLIs from racing on one prefix.
"""

import fcntl
import json
import os
import re
import time

from .shell import EXIT_USAGE, SitesError

DEFAULT_PREFIX = "strata"
STATE_ROOT = "/run/strata-sites"
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")   # bridge name "<prefix>-mgmt"
STATE_VERSION = 1


class Paths:
    """Where one prefix keeps its state, stats, log and namespace files."""

    def __init__(self, prefix, state_dir=None):
        if not PREFIX_RE.match(prefix):
            raise SitesError(f"bad prefix '{prefix}' (want [a-z][a-z0-9]*, at "
                             "most 10 characters)", EXIT_USAGE)
        self.prefix = prefix
        self.dir = state_dir or os.path.join(STATE_ROOT, prefix)
        self.state = os.path.join(self.dir, "state.json")
        self.stats = os.path.join(self.dir, "stats.json")
        self.log = os.path.join(self.dir, "emulator.log")
        self.links = os.path.join(self.dir, "links.txt")   # for `set`
        self.ns_dir = os.path.join(self.dir, "ns")
        self.lock = self.dir.rstrip("/") + ".lock"


class Lock:
    """Exclusive flock on the prefix's lock file for one CLI invocation;
    with timeout_s, gives up (SitesError) instead of waiting longer."""

    def __init__(self, paths, timeout_s=None):
        self.paths = paths
        self.timeout_s = timeout_s
        self.fd = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.paths.lock) or ".", exist_ok=True)
        self.fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
        if self.timeout_s is None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            return self
        deadline = time.monotonic() + self.timeout_s
        while not self._try_lock():
            if time.monotonic() >= deadline:
                os.close(self.fd)
                raise SitesError(f"{self.paths.lock} still locked after "
                                 f"{self.timeout_s:g}s (an 'up' or 'down' "
                                 "of this prefix is running?)")
            time.sleep(0.05)
        return self

    def _try_lock(self):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def __exit__(self, *exc):
        os.close(self.fd)


def load(paths):
    """The recorded state, or None when nothing was recorded."""
    try:
        with open(paths.state) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except ValueError:
        # A torn write: treat as leftovers that `down` must sweep by name.
        return {"version": STATE_VERSION, "phase": "corrupt", "sites": []}


def save(paths, state):
    os.makedirs(paths.dir, exist_ok=True)
    state["updated_unix"] = time.time()
    tmp = paths.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, paths.state)


def load_stats(paths):
    """The emulator's live counters, or None if it never wrote any."""
    try:
        with open(paths.stats) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
