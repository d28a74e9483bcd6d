#!/usr/bin/python3
"""Teardown leaves nothing behind, also after a crash: a SIGKILLed emulator,
a process still running inside a site, and an `up` that died halfway are
all swept by `down` (or by the next `up`) using the state on disk."""

import json
import os
import signal
import subprocess
import time

from sites_harness import check, main


def check_down_after_emulator_crash(tb):
    tb.up("--sites", "3")
    status = tb.status()
    # A long-running process inside a site (an orphaned rank, say).
    sleeper = subprocess.Popen([tb.cli_path, "--prefix", tb.prefix, "exec",
                                "2", "--", "sleep", "300"])
    time.sleep(0.3)
    os.kill(status["emulator"]["pid"], signal.SIGKILL)
    time.sleep(0.2)
    status = tb.status()
    check(not status["emulator"]["alive"], "status notices the dead emulator")
    proc = tb.cli("run", "--dry-run", "--", "true", check_rc=False)
    check(proc.returncode == 3 and "broken" in proc.stderr,
          "run refuses a testbed without emulator (exit 3)")
    proc = tb.down()
    check(proc.returncode == 0 and "3 namespaces" in proc.stderr,
          "down after the crash removes the 3 namespaces")
    check(sleeper.wait(timeout=10) is not None, "process in the site killed")
    check(not tb.leftovers(), "no namespace, link, process or mount left")


def check_up_after_half_done_up(tb):
    """Simulate `up` dying after the first namespace: leftovers + state."""
    plan = json.loads(tb.cli("up", "--mgmt-octet", "250",
                             "--dry-run").stdout)
    os.makedirs(plan["state_dir"], exist_ok=True)
    with open(os.path.join(plan["state_dir"], "state.json"), "w") as f:
        json.dump(plan, f)
    subprocess.run(["ip", "netns", "add", plan["sites"][0]["netns"]],
                   check=True)
    subprocess.run(["ip", "link", "add", plan["bridge"], "type", "bridge"],
                   check=True)
    proc = tb.up()
    check("removed leftovers" in proc.stderr, "up sweeps a half-done up")
    check(tb.status()["emulator"]["alive"], "... and comes up")
    check(tb.down().returncode == 0 and not tb.leftovers(),
          "down leaves nothing")


def check_down_without_state(tb):
    """State file lost (e.g. /run wiped by hand): sweep by name prefix."""
    tb.up()
    os.remove(os.path.join(tb.state_dir, "state.json"))
    check(tb.down().returncode == 0, "down without a state file exits 0")
    check(not tb.leftovers(), "... and still finds everything by prefix")


def test(tb, args):
    check_down_after_emulator_crash(tb)
    check_up_after_half_done_up(tb)
    check_down_without_state(tb)


if __name__ == "__main__":
    main(test, __doc__)
