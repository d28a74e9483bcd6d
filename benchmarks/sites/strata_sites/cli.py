"""strata-sites command line: up, down, status, set, run, exec, measure."""

import argparse
import json
import os
import sys

from . import config as config_mod
from . import emulator, launcher, measure, netsetup, shell, status
from . import state as state_mod
from .shell import (EXIT_ALREADY_UP, EXIT_NOT_UP, EXIT_OK, EXIT_USAGE,
                    SitesError, log)

# `up` and `down` hold the prefix's lock while they build or remove a whole
# testbed; `set` waits for them, but not forever.
SET_LOCK_TIMEOUT_S = 60
EPILOG = """exit codes: 0 ok, 1 error, 2 usage, 3 not up, 4 already up with
another configuration, 77 missing privilege or kernel feature (not root, no
network namespaces / TUN / bridge). See docs/testbed.md."""


def _requested_topology(args):
    """(site names, link specs, default fields) as `up` was asked."""
    names, specs, defaults = None, [], {}
    if args.config:
        names, specs, defaults = config_mod.load_config_file(args.config)
    if args.names:
        names = config_mod.site_names(names=args.names.split(","))
    elif args.sites or not names:
        names = config_mod.site_names(count=args.sites)
    if args.default:
        defaults.update(config_mod.parse_fields(args.default))
    return names, specs + (args.link or []), defaults


def _same_topology(old, new):
    """Would `up` build the same thing (sites, links, network settings)?"""
    def key(state):
        return ([s["name"] for s in state.get("sites", [])],
                [state.get(k) for k in ("links", "mtu", "tcp_cc",
                                        "bridge_addr")])
    return key(old) == key(new)


def _is_live(paths, state):
    emu = state.get("emulator") or {}
    return (state.get("phase") == "up" and emu.get("pid")
            and emulator.is_emulator(emu["pid"], paths)
            and all(os.path.exists(f"/run/netns/{s['netns']}")
                    for s in state["sites"]))


def cmd_up(args, paths):
    names, specs, defaults = _requested_topology(args)
    links = config_mod.resolve_links(names, specs, defaults)
    new = netsetup.plan(paths, names, links, args.mtu, args.mgmt_octet,
                        args.tcp_cc, args.seed, args.emu_priority)
    # What `set` re-resolves with its specs appended (queue sizes follow).
    new.update(link_specs=specs, link_defaults=defaults, links_generation=0)
    if args.dry_run:
        print(json.dumps(new, indent=1))
        return EXIT_OK
    netsetup.check_prerequisites()
    binary = emulator.find_binary(args.emu)
    with state_mod.Lock(paths):
        old = state_mod.load(paths)
        if old and _is_live(paths, old):
            if _same_topology(old, new):
                log(f"already up ({len(names)} sites, prefix '{paths.prefix}'),"
                    " nothing to do")
                return EXIT_OK
            raise SitesError("already up with a different configuration; run "
                             "'strata-sites down' first", EXIT_ALREADY_UP)
        if netsetup.destroy(paths, quiet=True):
            log("removed leftovers of an earlier testbed")
        netsetup.create(paths, new, binary)
    log(f"up: {len(names)} sites, emulator pid {new['emulator']['pid']}; "
        "'strata-sites status' shows the links")
    return EXIT_OK


def cmd_down(args, paths):
    if os.geteuid() != 0:
        raise SitesError("must run as root", shell.EXIT_MISSING)
    with state_mod.Lock(paths):
        if not netsetup.destroy(paths):
            log(f"nothing to take down (prefix '{paths.prefix}')")
    return EXIT_OK


def _load_up_state(paths):
    """The state of a live testbed; a dead emulator would make jobs hang."""
    state = state_mod.load(paths)
    if not state or state.get("phase") != "up":
        raise SitesError(f"no testbed up (prefix '{paths.prefix}'); run "
                         "'strata-sites up'", EXIT_NOT_UP)
    if not _is_live(paths, state):
        raise SitesError("the testbed is broken (emulator or a namespace is "
                         f"gone, see {paths.log}); run 'strata-sites down' "
                         "and 'up' again", EXIT_NOT_UP)
    return state


def cmd_status(args, paths):
    info = status.collect(paths)
    if info is None:
        if args.json:
            print(json.dumps({"prefix": paths.prefix, "phase": "down"}))
        else:
            log(f"no testbed up (prefix '{paths.prefix}')")
        return EXIT_NOT_UP
    print(json.dumps(info, indent=1) if args.json else status.render_text(info))
    return EXIT_OK


def _set_links(paths, state, new_specs):
    """Re-resolves the links as if `up` had been given new_specs last,
    hands them to the running emulator and records them."""
    if "link_specs" not in state:
        raise SitesError("this testbed was made by an older strata-sites; run "
                         "'strata-sites down' and 'up' again to use 'set'")
    names = [s["name"] for s in state["sites"]]
    specs = state["link_specs"] + new_specs
    links = config_mod.links_to_json(config_mod.resolve_links(
        names, specs, state["link_defaults"]))
    generation = 1 + max(state.get("links_generation", 0),
                         emulator.applied_generation(paths))
    seconds = emulator.update_links(paths, state, links, generation)
    changes = status.link_changes(state["links"], links)
    state.update(links=links, link_specs=specs, links_generation=generation)
    state_mod.save(paths, state)
    return changes, seconds


def cmd_set(args, paths):
    with state_mod.Lock(paths, timeout_s=SET_LOCK_TIMEOUT_S):
        state = _load_up_state(paths)
        changes, seconds = _set_links(paths, state, args.link)
    for line in changes or ["nothing changed"]:
        log(f"set {line}")
    log(f"the emulator applied it in {seconds * 1e3:.1f} ms")
    return EXIT_OK


def cmd_run(args, paths):
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        raise SitesError("run: give the program after '--'", EXIT_USAGE)
    state = _load_up_state(paths)
    extra = [x for k, v in (args.mca or []) for x in ("--mca", k, v)]
    cmd = launcher.mpirun_command(state, args.ranks_per_site, program,
                                  args.mpi_baseline, args.mpirun, extra)
    env = launcher.mpirun_env(state)
    if args.dry_run or shell.VERBOSE:
        print(launcher.format_command(env, cmd), flush=True)
    if args.dry_run:
        return EXIT_OK
    os.execvpe(cmd[0], cmd, dict(os.environ, **env))


def cmd_exec(args, paths):
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    state = _load_up_state(paths)
    names = [s["name"] for s in state["sites"]]
    site = state["sites"][config_mod.site_index(args.site, names)]
    cmd = launcher.site_prefix(site) + (program or ["/bin/sh"])
    if shell.VERBOSE:
        print(" ".join(cmd), file=sys.stderr)
    os.execvp(cmd[0], cmd)


def _parse_flow(text, names):
    src, sep, dst = text.partition(">")
    if not sep:
        raise SitesError(f"bad flow '{text}', want SRC>DST", EXIT_USAGE)
    return (config_mod.site_index(src, names),
            config_mod.site_index(dst, names))


def cmd_measure(args, paths):
    state = _load_up_state(paths)
    names = [s["name"] for s in state["sites"]]
    if args.what == "rtt":
        src, dst = _parse_flow(args.flows[0], names)
        result = measure.rtt(state, src, dst, args.count, args.interval)
        summary = result.get("rtt_ms", {})
        text = (f"rtt {src}>{dst}: {result['received']}/{result['sent']} "
                f"replies, min {summary.get('min', 0):.3f} avg "
                f"{summary.get('avg', 0):.3f} max {summary.get('max', 0):.3f}"
                f" ms")
    else:
        flows = [_parse_flow(f, names) for f in args.flows]
        result = measure.throughput(state, flows, args.seconds, args.omit,
                                    args.streams)
        text = "\n".join(f"tcp {r['src']}>{r['dst']}: {r['bps'] / 1e6:.1f} "
                         f"Mbit/s ({r['retransmits']} retransmits)"
                         for r in result["flows"])
        text += f"\ntotal {result['total_bps'] / 1e6:.1f} Mbit/s"
    print(json.dumps(result) if args.json else text)
    return EXIT_OK


def _add_up(sub):
    p = sub.add_parser("up", help="create the sites and start the emulator")
    p.add_argument("--sites", type=int, help="number of sites (default 2)")
    p.add_argument("--names", help="comma-separated site names")
    p.add_argument("--link", action="append", metavar="SPEC",
                   help="A-B:rtt=10ms,rate=1gbit[,jitter=,loss=,queue=] or "
                        "A>B:delay=5ms,... (repeatable)")
    p.add_argument("--default", metavar="FIELDS",
                   help="fields for every pair, e.g. rtt=30ms,rate=500mbit")
    p.add_argument("--config", metavar="FILE", help="JSON topology file")
    p.add_argument("--mtu", type=int, default=netsetup.DEFAULT_MTU)
    p.add_argument("--mgmt-octet", type=int,
                   default=netsetup.DEFAULT_MGMT_OCTET,
                   help="management subnet 198.19.N.0/24 (default 255)")
    p.add_argument("--tcp-cc", help="TCP congestion control in the sites "
                                     "(default: the kernel's)")
    p.add_argument("--seed", type=int, default=1, help="loss/jitter RNG seed")
    p.add_argument("--emu", help="path of strata-wan-emu")
    p.add_argument("--emu-priority", type=int,
                   default=netsetup.DEFAULT_EMU_PRIORITY,
                   help="SCHED_FIFO priority of the emulator, 0 = normal")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan as JSON, create nothing")


def _add_set(sub):
    p = sub.add_parser("set", help="change running links (no restart; TCP "
                                   "connections survive)")
    p.add_argument("--link", action="append", metavar="SPEC", required=True,
                   help="as for up, e.g. 0-1:rate=500mbit or 0>1:loss=1%% "
                        "(repeatable); unnamed fields keep their values")


def _add_run_exec(sub):
    p = sub.add_parser("run", help="run an MPI job with K ranks per site")
    p.add_argument("--ranks-per-site", "-k", type=int, default=1)
    p.add_argument("--mpi-baseline", action="store_true",
                   help="force Open MPI ob1/TCP over the WAN (a baseline)")
    p.add_argument("--mca", nargs=2, action="append", metavar=("KEY", "VALUE"))
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--dry-run", action="store_true",
                   help="print the mpirun command line, run nothing")
    p.add_argument("-v", "--verbose", action="store_true",
                   default=argparse.SUPPRESS,
                   help="print the mpirun command line before running it")
    p.add_argument("program", nargs=argparse.REMAINDER)
    p = sub.add_parser("exec", help="run a command inside one site")
    p.add_argument("site", help="site index or name")
    p.add_argument("program", nargs=argparse.REMAINDER)


def _add_measure(sub):
    p = sub.add_parser("measure", help="measure RTT or TCP throughput")
    p.add_argument("what", choices=("rtt", "tput"))
    p.add_argument("flows", nargs="+", metavar="SRC>DST")
    p.add_argument("--count", type=int, default=20, help="rtt probes")
    p.add_argument("--interval", type=float, default=0.05, help="rtt gap, s")
    p.add_argument("--seconds", type=int, default=4, help="tput duration")
    # 2 s: at 80 ms RTT the receive window needs >1 s to open fully.
    p.add_argument("--omit", type=int, default=2, help="tput warm-up, s")
    p.add_argument("--streams", type=int, default=1, help="TCP streams/flow")
    p.add_argument("--json", action="store_true")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="strata-sites", epilog=EPILOG,
        description="Emulated multi-site network on one machine.")
    parser.add_argument("--prefix", default=os.environ.get(
        "STRATA_SITES_PREFIX", state_mod.DEFAULT_PREFIX),
        help="name prefix of everything created (default strata)")
    parser.add_argument("--state-dir", default=os.environ.get(
        "STRATA_SITES_STATE_DIR"), help="default /run/strata-sites/PREFIX")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_up(sub)
    sub.add_parser("down", help="remove everything `up` made")
    p = sub.add_parser("status", help="sites, links and live counters")
    p.add_argument("--json", action="store_true")
    _add_set(sub)
    _add_run_exec(sub)
    _add_measure(sub)
    return parser


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status,
            "set": cmd_set, "run": cmd_run, "exec": cmd_exec,
            "measure": cmd_measure}


def main(argv=None):
    args = build_parser().parse_args(argv)
    shell.VERBOSE = args.verbose
    try:
        paths = state_mod.Paths(args.prefix, args.state_dir)
        return COMMANDS[args.command](args, paths)
    except SitesError as e:
        log(str(e))
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:   # `strata-sites status | head`
        sys.stderr.close()
        return EXIT_OK
