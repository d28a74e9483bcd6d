"""Starting, stopping and finding strata-wan-emu processes."""

import os
import shutil
import signal
import subprocess
import time

from . import state as state_mod
from .config import Link
from .shell import (EXIT_MISSING, SitesError, log, pid_alive, pid_cmdline)

EMU_NAME = "strata-wan-emu"
READY_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0
# SIGHUP wakes the emulator's loop at once; it applies the file and writes
# its stats within milliseconds. The margin is for a host busy elsewhere.
RELOAD_TIMEOUT_S = 2.0


def find_binary(explicit=None):
    """--emu, then $STRATA_WAN_EMU, then next to this script, then PATH."""
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    candidates = [explicit, os.environ.get("STRATA_WAN_EMU"),
                  os.path.join(here, EMU_NAME), shutil.which(EMU_NAME)]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return os.path.realpath(path)
    raise SitesError(f"cannot find {EMU_NAME} (build it, or pass --emu PATH)")


def command_line(binary, paths, state):
    args = [binary, "--stats", paths.stats, "--links-file", paths.links,
            "--seed", str(state["seed"]),
            "--rt-priority", str(state.get("emu_priority", 0))]
    for site in state["sites"]:
        args += ["--site",
                 f"{site['name']}:/run/netns/{site['netns']}:{site['tun']}"]
    for link in state["links"]:
        args += ["--link", _emu_link_arg(link)]
    return args


def _emu_link_arg(link):
    """A links_to_json() entry -> the emulator's `I>J:...` syntax."""
    fields = {k: v for k, v in link.items() if k not in ("src", "dst")}
    return Link(**fields).emu_arg(link["src"], link["dst"])


def _log_tail(paths, lines=5):
    try:
        with open(paths.log, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def _wait_ready(proc, paths):
    """Ready = it attached every TUN and published stats with its own pid."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            code = EXIT_MISSING if rc == EXIT_MISSING else 1
            raise SitesError(f"{EMU_NAME} exited with {rc}: {_log_tail(paths)}",
                             code)
        stats = state_mod.load_stats(paths)
        if stats and stats.get("pid") == proc.pid:
            return
        time.sleep(0.02)
    raise SitesError(f"{EMU_NAME} did not become ready in {READY_TIMEOUT_S}s: "
                     f"{_log_tail(paths)}")


def start(paths, state, binary):
    """Starts the emulator detached (own session, survives the CLI)."""
    args = command_line(binary, paths, state)
    if os.path.exists(paths.stats):
        os.remove(paths.stats)
    with open(paths.log, "ab") as logf:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=logf, start_new_session=True)
    state["emulator"] = {"pid": proc.pid, "binary": binary, "args": args,
                         "log": paths.log, "stats": paths.stats}
    state_mod.save(paths, state)
    _wait_ready(proc, paths)
    # Reaped by init from now on; keep Popen from warning at exit.
    proc.returncode = 0
    return proc.pid


def _write_links_file(paths, generation, links_json):
    lines = ["# written by `strata-sites set`; the emulator rereads it on "
             "SIGHUP", f"generation {generation}"]
    lines += [_emu_link_arg(link) for link in links_json]
    tmp = paths.links + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, paths.links)   # never a half-written file on SIGHUP


def applied_generation(paths):
    return (state_mod.load_stats(paths) or {}).get("links_generation", 0)


def update_links(paths, state, links_json, generation):
    """Hands the running emulator new link parameters (SIGHUP + links file)
    and waits until its stats say it applied them; returns the seconds."""
    pid = state["emulator"]["pid"]
    if "--links-file" not in state["emulator"].get("args", []):
        raise SitesError(f"{EMU_NAME} pid {pid} was started without "
                         "--links-file (an older strata-sites); run "
                         "'strata-sites down' and 'up' again")
    _write_links_file(paths, generation, links_json)
    started = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    deadline = started + RELOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        if applied_generation(paths) >= generation:
            return time.monotonic() - started
        if not is_emulator(pid, paths):
            raise SitesError(f"{EMU_NAME} pid {pid} is gone: "
                             f"{_log_tail(paths)}")
        time.sleep(0.005)
    raise SitesError(f"{EMU_NAME} did not apply {paths.links} within "
                     f"{RELOAD_TIMEOUT_S}s: {_log_tail(paths)}")


def is_emulator(pid, paths=None):
    argv = pid_cmdline(pid)
    if not argv or os.path.basename(argv[0]).decode() != EMU_NAME:
        return False
    return paths is None or paths.stats.encode() in argv


def scan(paths):
    """Emulators of this prefix, found by their --stats path (crash sweep)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and is_emulator(int(entry), paths):
            pids.append(int(entry))
    return pids


def stop(pid):
    """SIGTERM (it writes final stats), then SIGKILL after a grace period."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not pid_alive(pid) or _is_zombie(pid):
            return
        time.sleep(0.02)
    log(f"{EMU_NAME} pid {pid} ignored SIGTERM; killing it")
    os.kill(pid, signal.SIGKILL)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False

