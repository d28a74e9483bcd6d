"""Link specifications -> one resolved Link per direction of every site pair.

Forms accepted on the command line (`--link`) and in JSON (`--config`):
  0-1:rtt=10ms,rate=1gbit        both directions; each gets delay = rtt / 2
  0>1:delay=7ms,rate=200mbit     one direction only (asymmetric links)
  keys: rtt, delay (one-way), jitter, rate, loss, queue, reorder
Later specs override earlier ones field by field; unspecified fields come
from the defaults (rtt=20ms, rate=1gbit, no jitter, no loss).
"""

import json
import re
from dataclasses import asdict, dataclass

from .shell import EXIT_USAGE, SitesError

DEFAULT_SITES = 2
DEFAULT_SPEC = {"rtt": "20ms", "rate": "1gbit"}
MAX_SITES = 200           # site j owns 198.18.j.0/24
SITE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,11}$")
# Queue slack on top of 2 x BDP: a few of the largest (64 KB) TUN packets, so
# tiny-BDP links still absorb one TCP burst.
QUEUE_SLACK_BYTES = 4 * 65536
MIN_QUEUE_BYTES = 1 << 20

_TIME_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9,
               "tbit": 10**12, "bps": 8, "kbps": 8 * 10**3,
               "mbps": 8 * 10**6, "gbps": 8 * 10**9}
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
               "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


@dataclass
class Link:
    """One direction: what strata-wan-emu gets for `--link I>J:`."""
    delay_ns: int
    jitter_ns: int
    rate_bps: int        # 0 = unlimited
    loss: float          # 0..1
    queue_bytes: int     # 0 = unlimited
    reorder: bool

    def emu_arg(self, src, dst):
        return (f"{src}>{dst}:delay_us={self.delay_ns // 1000},"
                f"jitter_us={self.jitter_ns // 1000},rate_bps={self.rate_bps},"
                f"loss={self.loss:.6g},queue_bytes={self.queue_bytes},"
                f"reorder={int(self.reorder)}")


def _split_number(text, units, what):
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*",
                     str(text).lower())
    if not m or m.group(2) not in units:
        raise SitesError(f"bad {what} '{text}' (units: {', '.join(units)})",
                         EXIT_USAGE)
    return float(m.group(1)) * units[m.group(2)]


def parse_duration_ns(text):
    if str(text).strip() == "0":
        return 0
    return int(round(_split_number(text, _TIME_UNITS, "duration")))


def parse_rate_bps(text):
    if str(text).strip().lower() in ("0", "unlimited", "inf"):
        return 0
    return int(round(_split_number(text, _RATE_UNITS, "rate")))


def parse_loss(text):
    text = str(text).strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value <= 1:
        raise SitesError(f"loss '{text}' must be within 0..1 or 0%..100%",
                         EXIT_USAGE)
    return value


def parse_bool(text):
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def parse_fields(text):
    """'rtt=10ms,rate=1gbit' -> {'rtt': '10ms', 'rate': '1gbit'}"""
    fields = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in ("rtt", "delay", "jitter", "rate", "loss",
                                   "queue", "reorder"):
            raise SitesError(f"bad link field '{item}'", EXIT_USAGE)
        fields[key] = value
    return fields


def site_index(token, names):
    """A site given by index ('1') or by name ('us')."""
    if token.isdigit() and int(token) < len(names):
        return int(token)
    if token in names:
        return names.index(token)
    raise SitesError(f"no site '{token}' (sites: {', '.join(names)})",
                     EXIT_USAGE)


def parse_link_spec(spec, names):
    """'0-1:rtt=10ms' -> [((0, 1), fields), ((1, 0), fields)]"""
    pair, _, rest = spec.partition(":")
    m = re.fullmatch(r"([a-z0-9_]+)([->])([a-z0-9_]+)", pair.strip())
    if not m:
        raise SitesError(f"bad link '{spec}': want A-B:... or A>B:...",
                         EXIT_USAGE)
    a, b = site_index(m.group(1), names), site_index(m.group(3), names)
    if a == b:
        raise SitesError(f"link '{spec}' connects a site to itself", EXIT_USAGE)
    fields = parse_fields(rest)
    pairs = [(a, b)] if m.group(2) == ">" else [(a, b), (b, a)]
    return [(p, fields) for p in pairs]


def _queue_bytes(fields, rate_bps, rtt_ns):
    if "queue" in fields:
        text = str(fields["queue"]).lower()
        if re.search(r"[0-9.](ns|us|ms|s)$", text):   # time -> bytes at rate
            return int(rate_bps * parse_duration_ns(text) / 8e9)
        return int(_split_number(text, _SIZE_UNITS, "queue size"))
    if rate_bps == 0:
        return 0
    bdp = rate_bps * rtt_ns / 8e9
    return max(MIN_QUEUE_BYTES, int(2 * bdp) + QUEUE_SLACK_BYTES)


def _one_way_delay_ns(fields):
    if "delay" in fields:
        return parse_duration_ns(fields["delay"])
    return parse_duration_ns(fields["rtt"]) // 2


def resolve_links(names, specs, defaults=None):
    """All directions of all pairs, defaults overlaid by `specs` in order."""
    base = dict(DEFAULT_SPEC, **(defaults or {}))
    fields = {(i, j): dict(base) for i in range(len(names))
              for j in range(len(names)) if i != j}
    for spec in specs:
        for pair, override in parse_link_spec(spec, names):
            if "delay" in override:
                fields[pair].pop("rtt", None)
            if "rtt" in override:
                fields[pair].pop("delay", None)
            fields[pair].update(override)
    delays = {p: _one_way_delay_ns(f) for p, f in fields.items()}
    links = {}
    for (i, j), f in fields.items():
        rate = parse_rate_bps(f["rate"])
        rtt = delays[(i, j)] + delays[(j, i)]
        links[(i, j)] = Link(
            delay_ns=delays[(i, j)],
            jitter_ns=parse_duration_ns(f.get("jitter", "0")),
            rate_bps=rate, loss=parse_loss(f.get("loss", "0")),
            queue_bytes=_queue_bytes(f, rate, rtt),
            reorder=parse_bool(f.get("reorder", "0")))
    return links


def site_names(count=None, names=None):
    if not names:
        names = [f"site{i}" for i in range(count or DEFAULT_SITES)]
    names = list(names)
    if not 2 <= len(names) <= MAX_SITES:
        raise SitesError(f"need 2..{MAX_SITES} sites, got {len(names)}",
                         EXIT_USAGE)
    for name in names:
        if not SITE_NAME_RE.match(name):
            raise SitesError(f"bad site name '{name}' (want [a-z][a-z0-9_]*,"
                             " at most 12 characters)", EXIT_USAGE)
    if len(set(names)) != len(names):
        raise SitesError("site names must be unique", EXIT_USAGE)
    return names


def _fields_to_spec(key, value):
    if isinstance(value, str):
        return f"{key}:{value}"
    return f"{key}:" + ",".join(f"{k}={v}" for k, v in value.items())


def load_config_file(path):
    """JSON: {"sites": 3 | ["eu", "us", ...], "defaults": {"rtt": "20ms"},
              "links": {"0-1": {"rtt": "10ms", "rate": "1gbit"},
                        "eu>us": "delay=30ms"}}  ->  (names, specs, defaults)
    """
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise SitesError(f"cannot read config {path}: {e}", EXIT_USAGE)
    sites = doc.get("sites", DEFAULT_SITES)
    names = site_names(names=sites) if isinstance(sites, list) else \
        site_names(count=int(sites))
    links = doc.get("links", {})
    items = links.items() if isinstance(links, dict) else \
        [(l.pop("pair"), l) for l in links]
    specs = [_fields_to_spec(k, v) for k, v in items]
    defaults = {k: str(v) for k, v in doc.get("defaults", {}).items()}
    parse_fields(",".join(f"{k}={v}" for k, v in defaults.items()))
    return names, specs, defaults


def links_to_json(links):
    return [dict(asdict(link), src=i, dst=j)
            for (i, j), link in sorted(links.items())]
