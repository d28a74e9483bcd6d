"""Creating and removing the sites: namespaces, bridge, veths, TUNs.

Per site i (name N, prefix P):
  network namespace  P-N            lo up, IPv6 off, TCP buffers for WAN BDPs
  WAN                wan0 (TUN)     198.18.i.1/16, MTU 64000, emulator reads it
  management         mgmt0 (veth)   198.19.M.(i+1)/24 <-> P-vi on bridge P-mgmt
  IPC + UTS ns       files in the state dir, hostname P-N
The IPC namespace is what keeps UCX off shared memory between sites: UCX
(1.13) calls two processes shm-reachable when their boot_id matches and, for
non-initial IPC namespaces, the IPC namespace matches too. Hostname/MAC do not
matter for that, but a per-site hostname keeps logs and MPI's host list honest.
"""

import os
import shutil
import signal
import time

from . import emulator
from . import state as state_mod
from .config import links_to_json
from .shell import EXIT_MISSING, EXIT_USAGE, SitesError, ip, log, run, sysctl

WAN_TUN = "wan0"
MGMT_IF = "mgmt0"
WAN_SUBNET = "198.18.0.0/16"
DEFAULT_MTU = 64000
DEFAULT_MGMT_OCTET = 255
TUN_TXQUEUELEN = 1000
# SCHED_FIFO priority of the emulator (see wan_emulator.cc set_realtime).
DEFAULT_EMU_PRIORITY = 10
# Autotuning ceiling for WAN BDPs: 1 Gbit/s x 80 ms = 10 MB, 2x for growth.
TCP_BUFFER_MAX = 64 << 20


def plan(paths, names, links, mtu, mgmt_octet, tcp_cc, seed,
         emu_priority=DEFAULT_EMU_PRIORITY):
    """Every name `up` will create, recorded before anything exists."""
    if not 576 <= mtu <= 65535 or not 0 <= mgmt_octet <= 255:
        raise SitesError("--mtu must be 576..65535, --mgmt-octet 0..255",
                         EXIT_USAGE)
    prefix = paths.prefix
    sites = []
    for i, name in enumerate(names):
        netns = f"{prefix}-{name}"
        sites.append({
            "index": i, "name": name, "netns": netns, "hostname": netns,
            "tun": WAN_TUN, "wan_addr": f"198.18.{i}.1",
            "mgmt_if": MGMT_IF, "mgmt_addr": f"198.19.{mgmt_octet}.{i + 1}",
            "veth_root": f"{prefix}-v{i}",
            "ipc_ns": os.path.join(paths.ns_dir, f"{name}.ipc"),
            "uts_ns": os.path.join(paths.ns_dir, f"{name}.uts")})
    return {"version": state_mod.STATE_VERSION, "prefix": prefix,
            "state_dir": paths.dir, "phase": "creating",
            "created_unix": time.time(), "bridge": f"{prefix}-mgmt",
            "bridge_addr": f"198.19.{mgmt_octet}.254",
            "mgmt_subnet": f"198.19.{mgmt_octet}.0/24",
            "wan_subnet": WAN_SUBNET, "mtu": mtu, "tcp_cc": tcp_cc,
            "seed": seed, "emu_priority": emu_priority, "sites": sites,
            "links": links_to_json(links),
            "emulator": None}


def check_prerequisites():
    """Exit 77 (tests skip) when this machine cannot host a testbed."""
    if os.geteuid() != 0:
        raise SitesError("must run as root: network namespaces, TUN devices "
                         "and bridges need CAP_NET_ADMIN/CAP_SYS_ADMIN",
                         EXIT_MISSING)
    if not os.path.exists("/proc/self/ns/net"):
        raise SitesError("kernel without network namespaces", EXIT_MISSING)
    if not os.path.exists("/dev/net/tun"):
        raise SitesError("no /dev/net/tun: kernel without TUN (modprobe tun)",
                         EXIT_MISSING)
    for tool, package in (("ip", "iproute2"), ("nsenter", "util-linux"),
                          ("unshare", "util-linux")):
        if not shutil.which(tool):
            raise SitesError(f"'{tool}' not found (install {package})",
                             EXIT_MISSING)


def _missing_on_failure(step, fn, *args, **kwargs):
    """The first use of a kernel feature: failure means 'cannot', exit 77."""
    try:
        fn(*args, **kwargs)
    except SitesError as e:
        raise SitesError(f"cannot {step}: {e}", EXIT_MISSING)


def _create_bridge(state):
    bridge = state["bridge"]
    _missing_on_failure("create a Linux bridge", ip, "link", "add", bridge,
                        "type", "bridge")
    ip("addr", "add", f"{state['bridge_addr']}/24", "dev", bridge)
    ip("link", "set", bridge, "up")


def _tune_namespace(state, netns):
    # IPv6 off: the TUN would otherwise carry router solicitations and MLD.
    sysctl(netns, "net.ipv6.conf.all.disable_ipv6", 1, check=False)
    sysctl(netns, "net.ipv6.conf.default.disable_ipv6", 1, check=False)
    sysctl(netns, "net.ipv4.tcp_rmem", f"4096 131072 {TCP_BUFFER_MAX}")
    sysctl(netns, "net.ipv4.tcp_wmem", f"4096 16384 {TCP_BUFFER_MAX}")
    # Cached ssthresh from an earlier run would skew the next measurement.
    sysctl(netns, "net.ipv4.tcp_no_metrics_save", 1)
    if state.get("tcp_cc"):
        try:
            sysctl(netns, "net.ipv4.tcp_congestion_control", state["tcp_cc"])
        except SitesError:
            raise SitesError(f"congestion control '{state['tcp_cc']}' not "
                             "allowed in a namespace; see the host's "
                             "net.ipv4.tcp_allowed_congestion_control")


def _create_mgmt_link(state, site):
    netns, veth = site["netns"], site["veth_root"]
    ip("link", "add", veth, "type", "veth", "peer", "name", MGMT_IF,
       "netns", netns)
    ip("link", "set", veth, "master", state["bridge"], "up")
    ip("addr", "add", f"{site['mgmt_addr']}/24", "dev", MGMT_IF, netns=netns)
    ip("link", "set", MGMT_IF, "up", netns=netns)


def _create_wan_tun(state, site):
    netns, tun = site["netns"], site["tun"]
    _missing_on_failure("create a TUN device", ip, "tuntap", "add", "mode",
                        "tun", "name", tun, netns=netns)
    ip("link", "set", tun, "mtu", str(state["mtu"]), "txqueuelen",
       str(TUN_TXQUEUELEN), "up", netns=netns)
    ip("addr", "add", f"{site['wan_addr']}/16", "dev", tun, netns=netns)


def _create_ipc_uts(site):
    """Persistent per-site IPC and UTS namespaces, bind-mounted on files."""
    os.makedirs(os.path.dirname(site["ipc_ns"]), exist_ok=True)
    for path in (site["ipc_ns"], site["uts_ns"]):
        open(path, "a").close()
    _missing_on_failure("create IPC/UTS namespaces", run,
                        ["unshare", f"--ipc={site['ipc_ns']}",
                         f"--uts={site['uts_ns']}", "hostname",
                         site["hostname"]])


def _create_site(state, site):
    netns = site["netns"]
    _missing_on_failure("create a network namespace", ip, "netns", "add", netns)
    ip("link", "set", "lo", "up", netns=netns)
    _tune_namespace(state, netns)
    _create_mgmt_link(state, site)
    _create_wan_tun(state, site)
    _create_ipc_uts(site)


def create(paths, state, emu_binary):
    """Builds everything in `state`; on any failure removes what it made."""
    state_mod.save(paths, state)
    try:
        _create_bridge(state)
        for site in state["sites"]:
            _create_site(state, site)
        emulator.start(paths, state, emu_binary)
        state["phase"] = "up"
        state_mod.save(paths, state)
    except BaseException:
        destroy(paths, quiet=True)
        raise


# --- teardown --------------------------------------------------------------

def _scan_netns(prefix):
    out = ip("netns", "list", capture=True, check=False).stdout or ""
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return {n for n in names if n.startswith(prefix + "-")}


def _scan_links(prefix):
    out = ip("-o", "link", "show", capture=True, check=False).stdout or ""
    found = set()
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name == f"{prefix}-mgmt" or (name.startswith(f"{prefix}-v") and
                                        name[len(prefix) + 2:].isdigit()):
            found.add(name)
    return found


def _kill_netns_processes(netns):
    """Leftover ranks or iperf3 servers would keep a deleted netns alive."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        out = ip("netns", "pids", netns, capture=True, check=False).stdout
        pids = [int(p) for p in (out or "").split()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if not pids:
            return
        time.sleep(0.3)


def _remove_ns_files(paths, state):
    files = {s.get(k) for s in state.get("sites", []) for k in ("ipc_ns",
                                                                 "uts_ns")}
    if os.path.isdir(paths.ns_dir):
        files |= {os.path.join(paths.ns_dir, f)
                  for f in os.listdir(paths.ns_dir)}
    for path in filter(None, files):
        run(["umount", path], check=False, quiet=True)
        if os.path.exists(path):
            os.remove(path)


def destroy(paths, quiet=False):
    """Removes every trace of this prefix; returns what it found."""
    state = state_mod.load(paths) or {}
    emu = state.get("emulator") or {}
    pids = set(emulator.scan(paths))
    if emu.get("pid") and emulator.is_emulator(emu["pid"]):
        pids.add(emu["pid"])
    # By name prefix, not from the state: covers a torn or missing state file.
    netns = _scan_netns(paths.prefix)
    links = _scan_links(paths.prefix)
    found = bool(state or pids or netns or links)
    for pid in pids:
        emulator.stop(pid)
    for name in sorted(netns):
        _kill_netns_processes(name)
        ip("netns", "del", name, check=False)
    for name in sorted(links, reverse=True):   # veths before the bridge
        ip("link", "del", name, check=False)
    _remove_ns_files(paths, state)
    if os.path.isdir(paths.dir):
        shutil.rmtree(paths.dir, ignore_errors=True)
    if found and not quiet:
        log(f"removed prefix '{paths.prefix}': {len(netns)} namespaces, "
            f"{len(links)} links, {len(pids)} emulator processes")
    return found
