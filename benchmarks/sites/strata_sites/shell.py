"""Running commands and the exit codes shared by every subcommand."""

import os
import shlex
import subprocess
import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_UP = 3          # status/run/exec/measure with no testbed up
EXIT_ALREADY_UP = 4      # up while a testbed with another config is up
EXIT_MISSING = 77        # not root, or no netns/TUN/bridge: tests skip on it

VERBOSE = False


class SitesError(Exception):
    """A failure with a message for the user and an exit code."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


def log(message):
    print(f"strata-sites: {message}", file=sys.stderr, flush=True)


def run(cmd, check=True, capture=False, quiet=False):
    """Runs `cmd` (a list); raises SitesError when check and it fails."""
    if VERBOSE:
        log("+ " + shlex.join(cmd))
    pipe = subprocess.PIPE
    proc = subprocess.run(cmd, text=True, stdin=subprocess.DEVNULL,
                          stdout=pipe if capture else None,
                          stderr=pipe if (capture or quiet) else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()
        raise SitesError(f"command failed ({proc.returncode}): "
                         f"{shlex.join(cmd)}"
                         + (f": {detail}" if detail else ""))
    return proc


def ip(*args, netns=None, check=True, capture=False):
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run(prefix + list(args), check=check, capture=capture, quiet=True)


def sysctl(netns, key, value, check=True):
    """Sets a per-namespace sysctl by writing /proc/sys inside the namespace."""
    path = "/proc/sys/" + key.replace(".", "/")
    cmd = ["ip", "netns", "exec", netns, "sh", "-c", f"echo '{value}' > {path}"]
    return run(cmd, check=check, quiet=True)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []
