"""Shared scaffolding for the `sites` CTest tests (see CMakeLists.txt here).

Every test runs under its own prefix and management subnet, so it never
touches a developer's `strata` testbed, and always ends with `down` plus a
check that nothing is left: no namespaces, links, emulator processes, mounts
or state. Exit codes: 0 pass, 1 fail, 77 skip (not root / no netns or TUN).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback

EXIT_SKIP = 77
PREFIX = "sitest"
MGMT_OCTET = "250"


class Skip(Exception):
    pass


def check(condition, message):
    """Assert with a message that also prints on success (CTest log)."""
    if not condition:
        raise AssertionError(message)
    print(f"  ok: {message}", flush=True)


def within(measured, configured, abs_tol, rel_tol):
    """|measured - configured| <= max(abs_tol, rel_tol * configured)."""
    return abs(measured - configured) <= max(abs_tol, rel_tol * configured)


class Testbed:
    def __init__(self, bin_dir, prefix=PREFIX, mgmt_octet=MGMT_OCTET):
        self.bin_dir = bin_dir
        self.cli_path = os.path.join(bin_dir, "strata-sites")
        self.prefix = prefix
        self.mgmt_octet = mgmt_octet
        self.state_dir = f"/run/strata-sites/{prefix}"

    def cli_command(self, *args):
        return [self.cli_path, "--prefix", self.prefix, "--state-dir",
                self.state_dir] + list(args)

    def cli(self, *args, check_rc=True, timeout=120):
        cmd = self.cli_command(*args)
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)
        if check_rc and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {proc.returncode}\n"
                                 f"{proc.stdout}{proc.stderr}")
        return proc

    def up(self, *args):
        proc = self.cli("up", "--mgmt-octet", self.mgmt_octet, *args,
                        check_rc=False)
        if proc.returncode == EXIT_SKIP:
            raise Skip(proc.stderr.strip())
        if proc.returncode != 0:
            raise AssertionError(f"up failed ({proc.returncode}): "
                                 f"{proc.stderr}")
        return proc

    def down(self):
        return self.cli("down", check_rc=False)

    def status(self):
        return json.loads(self.cli("status", "--json").stdout)

    def link(self, src, dst, status=None):
        status = status or self.status()
        return next(l for l in status["links"]
                    if l["src"] == src and l["dst"] == dst)

    def settle_stats(self):
        """The emulator rewrites its counters every 200 ms."""
        time.sleep(0.5)

    def emulator_stats(self):
        """The emulator's own view (stats.json), params as it applies them."""
        with open(os.path.join(self.state_dir, "stats.json")) as f:
            return json.load(f)

    def measure(self, *args):
        return json.loads(self.cli("measure", *args, "--json").stdout)

    def late_pkts(self):
        self.settle_stats()
        return sum(l["late_pkts"] for l in self.status()["links"])

    def measure_tput(self, flows, seconds, good, omit=2, attempts=2):
        """iperf3 over `flows`; runs once more only if the result is not
        `good` AND the emulator reported late packets meanwhile (it was
        starved of CPU by other load, and said so). A wrong link model fails
        every attempt; a noisy neighbour does not fail CI."""
        for attempt in range(1, attempts + 1):
            late_before = self.late_pkts()
            result = self.measure("tput", *flows, "--seconds", str(seconds),
                                  "--omit", str(omit))
            if good(result):
                return result
            late = self.late_pkts() - late_before
            if late == 0 or attempt == attempts:
                return result
            print(f"  retry: emulator reported {late} late packets during "
                  f"attempt {attempt} (host busy?)", flush=True)
        return result

    def exec_in(self, site, *argv, timeout=60):
        return self.cli("exec", str(site), "--", *argv, timeout=timeout)

    def probe(self):
        return os.path.join(self.bin_dir, "strata_sites", "udp_probe.py")

    def emulator_log(self):
        try:
            with open(os.path.join(self.state_dir, "emulator.log")) as f:
                return f.read()
        except OSError:
            return ""

    def leftovers(self):
        """Everything of this prefix still on the machine (should be none)."""
        found = []
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True,
                               text=True).stdout.split("\n")
        found += [n for n in netns if n.startswith(self.prefix + "-")]
        links = subprocess.run(["ip", "-o", "link", "show"],
                               capture_output=True, text=True).stdout
        found += [l.split(":")[1].strip() for l in links.splitlines()
                  if l.split(":")[1].strip().startswith(self.prefix + "-")]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if b"strata-wan-emu" in argv and self.state_dir.encode() in argv:
                found.append(f"emulator pid {pid}")
        with open("/proc/self/mountinfo") as f:
            found += [l.split()[4] for l in f if self.state_dir in l]
        if os.path.exists(self.state_dir):
            found.append(self.state_dir)
        return found


def _diagnose(testbed):
    print("---- status ----")
    print(testbed.cli("status", check_rc=False).stdout)
    print("---- emulator log (tail) ----")
    print("\n".join(testbed.emulator_log().splitlines()[-20:]))


def run_test(test_fn, description, prefix=PREFIX, mgmt_octet=MGMT_OCTET):
    """Parses --bin/--mpi-prog, runs test_fn(testbed, args), cleans up."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin", required=True, help="dir with strata-sites")
    parser.add_argument("--mpi-prog", help="path of mpi_wan_check")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the sites tests need root (netns, TUN, bridge)")
        return EXIT_SKIP
    testbed = Testbed(args.bin, prefix, mgmt_octet)
    testbed.down()   # a crashed earlier run must not fail this one
    started = time.monotonic()
    rc = 0
    try:
        test_fn(testbed, args)
    except Skip as e:
        print(f"SKIP: {e}")
        rc = EXIT_SKIP
    except Exception:
        traceback.print_exc()
        _diagnose(testbed)
        rc = 1
    finally:
        testbed.down()
    left = testbed.leftovers()
    if left:
        print(f"FAIL: left behind after down: {left}")
        rc = 1
    print(f"{'PASS' if rc == 0 else 'result'} {rc} in "
          f"{time.monotonic() - started:.1f}s", flush=True)
    return rc


def main(test_fn, description, **testbed):
    """testbed: prefix= and mgmt_octet=, for a test that may run beside
    the others."""
    sys.exit(run_test(test_fn, description, **testbed))
