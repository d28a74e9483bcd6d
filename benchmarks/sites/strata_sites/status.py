"""`strata-sites status`: sites, links and the emulator's live counters."""

import json
import time

from . import emulator
from . import state as state_mod
from .shell import ip

LINK_COUNTERS = ("rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes",
                 "drop_loss_pkts", "drop_queue_pkts", "drop_queue_bytes",
                 "drop_write_pkts", "late_pkts", "late_max_us",
                 "backlog_bytes", "backlog_max_bytes", "inflight_pkts",
                 "inflight_bytes", "sojourn_us", "lateness_us")


def _tun_kernel_stats(site):
    """Kernel view of the site's TUN: tx.dropped > 0 means packets died
    before the emulator could read them (it was too slow)."""
    out = ip("-s", "-j", "link", "show", site["tun"], netns=site["netns"],
             capture=True, check=False).stdout
    try:
        stats = json.loads(out)[0]["stats64"]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return {"to_emulator_pkts": stats["tx"]["packets"],
            "to_emulator_dropped": stats["tx"]["dropped"],
            "from_emulator_pkts": stats["rx"]["packets"]}


def _warnings(paths, keep=5):
    try:
        with open(paths.log, errors="replace") as f:
            lines = [l.rstrip() for l in f if "WARNING" in l]
    except OSError:
        return 0, []
    return len(lines), lines[-keep:]


def collect(paths):
    """Everything `status --json` prints; None when nothing is recorded."""
    state = state_mod.load(paths)
    if state is None:
        return None
    stats = state_mod.load_stats(paths) or {}
    emu = state.get("emulator") or {}
    pid = emu.get("pid")
    warn_count, warn_tail = _warnings(paths)
    live = {(l["from"], l["to"]): l for l in stats.get("links", [])}
    links = []
    for link in state.get("links", []):
        counters = live.get((link["src"], link["dst"]), {})
        links.append(dict(link, **{k: counters.get(k) for k in LINK_COUNTERS}))
    sites = [dict(s, tun_kernel=_tun_kernel_stats(s))
             for s in state.get("sites", [])]
    written = stats.get("written_unix")
    return {
        "prefix": state.get("prefix"), "phase": state.get("phase"),
        "state_dir": paths.dir, "bridge": state.get("bridge"),
        "wan_subnet": state.get("wan_subnet"), "mtu": state.get("mtu"),
        "emulator": {"pid": pid,
                     "alive": bool(pid and emulator.is_emulator(pid, paths)),
                     "uptime_s": stats.get("uptime_s"),
                     "stats_age_s": time.time() - written if written else None,
                     "queued_pkts": stats.get("queued_pkts"),
                     "pool_bytes": stats.get("pool_bytes"),
                     "log": paths.log, "warning_count": warn_count,
                     "warnings": warn_tail},
        "sites": sites, "links": links}


def _fmt_rate(bps):
    if not bps:
        return "unlimited"
    for unit, scale in (("Gbit", 1e9), ("Mbit", 1e6), ("kbit", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g}{unit}"
    return f"{bps}bit"


def _fmt_bytes(n):
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n}B"


def _fmt_ms(ns):
    return f"{ns / 1e6:.3g}ms"


def _fmt_loss(loss):
    return f"{loss * 100:.3g}%"


_CHANGE_FORMATS = (("delay_ns", "delay", _fmt_ms),
                   ("jitter_ns", "jitter", _fmt_ms),
                   ("rate_bps", "rate", _fmt_rate),
                   ("loss", "loss", _fmt_loss),
                   ("queue_bytes", "queue", _fmt_bytes),
                   ("reorder", "reorder", str))


def link_changes(old_links, new_links):
    """'0>1: rate 1Gbit -> 250Mbit, ...' for each direction that changed."""
    old = {(l["src"], l["dst"]): l for l in old_links}
    lines = []
    for new in new_links:
        before = old[(new["src"], new["dst"])]
        diffs = [f"{label} {fmt(before[key])} -> {fmt(new[key])}"
                 for key, label, fmt in _CHANGE_FORMATS
                 if before[key] != new[key]]
        if diffs:
            lines.append(f"{new['src']}>{new['dst']}: " + ", ".join(diffs))
    return lines


def _site_rows(info):
    rows = [("SITE", "NAME", "NETNS", "WAN", "MGMT", "HOSTNAME",
             "TUN_DROPPED")]
    for s in info["sites"]:
        k = s.get("tun_kernel") or {}
        rows.append((str(s["index"]), s["name"], s["netns"], s["wan_addr"],
                     s["mgmt_addr"], s["hostname"],
                     str(k.get("to_emulator_dropped", "-"))))
    return rows


def _link_rows(info):
    rows = [("LINK", "DELAY", "JITTER", "RATE", "LOSS", "QUEUE", "TX_PKTS",
             "TX_BYTES", "DROP_LOSS", "DROP_QUEUE", "LATE", "BACKLOG",
             "MAX_BACKLOG", "SOJOURN_AVG", "SOJOURN_MAX")]
    for l in info["links"]:
        soj = l.get("sojourn_us") or {}
        rows.append((f"{l['src']}>{l['dst']}", _fmt_ms(l["delay_ns"]),
                     _fmt_ms(l["jitter_ns"]), _fmt_rate(l["rate_bps"]),
                     _fmt_loss(l["loss"]), _fmt_bytes(l["queue_bytes"]),
                     str(l.get("tx_pkts", "-")), _fmt_bytes(l.get("tx_bytes")),
                     str(l.get("drop_loss_pkts", "-")),
                     str(l.get("drop_queue_pkts", "-")),
                     str(l.get("late_pkts", "-")),
                     _fmt_bytes(l.get("backlog_bytes")),
                     _fmt_bytes(l.get("backlog_max_bytes")),
                     f"{soj.get('mean', 0) / 1e3:.3g}ms" if soj else "-",
                     f"{soj.get('max', 0) / 1e3:.3g}ms" if soj else "-"))
    return rows


def _table(rows):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
                     for r in rows)


def render_text(info):
    emu = info["emulator"]
    health = "running" if emu["alive"] else "NOT RUNNING"
    age = emu["stats_age_s"]
    lines = [f"prefix '{info['prefix']}': {len(info['sites'])} sites, phase "
             f"{info['phase']}, emulator pid {emu['pid']} {health}"
             + (f", stats {age:.1f}s old" if age is not None else ""),
             f"management bridge {info['bridge']}, WAN {info['wan_subnet']} "
             f"MTU {info['mtu']}, state {info['state_dir']}", "",
             _table(_site_rows(info)), "", _table(_link_rows(info))]
    if emu["warning_count"]:
        lines += ["", f"{emu['warning_count']} emulator warnings "
                  f"({emu['log']}), latest:"] + ["  " + w for w in
                                                   emu["warnings"]]
    return "\n".join(lines)
