"""Lower bounds for AllReduce across emulated sites (docs/performance.md,
"AllReduce across sites: the benchmark driver").

A testbed is described by its directed links, as `strata-sites status --json`
lists them: {"src", "dst", "delay_ns", "rate_bps"}. Ranks are placed
site-major (ranks 0..k-1 in site 0, and so on), as `strata-sites run` does.
Every function returns seconds for a message of `size` bytes.
"""


class Testbed:
    def __init__(self, links, ranks_per_site):
        self.sites = 1 + max(max(l["src"], l["dst"]) for l in links)
        self.ranks = self.sites * ranks_per_site
        # bytes/s and seconds per direction; rate 0 means unlimited
        self.rate = {(l["src"], l["dst"]): (l["rate_bps"] / 8 or float("inf")) for l in links}
        self.delay = {(l["src"], l["dst"]): l["delay_ns"] / 1e9 for l in links}

    @classmethod
    def from_status(cls, status, ranks_per_site):
        return cls(status["links"], ranks_per_site)

    def slowest_rate(self):
        return min(self.rate.values())

    def longest_rtt(self):
        return max(self.delay[(i, j)] + self.delay.get((j, i), self.delay[(i, j)]) for i, j in self.delay)

    def ring_rate(self):
        """Slowest link the flat ring crosses: site i's last rank sends to
        site i+1's first rank (for 3 sites that is every pair)."""
        S = self.sites
        return min(self.rate[(i, (i + 1) % S)] for i in range(S))

    def shortest_delays(self):
        """One-way delay of the fastest path between each ordered pair
        (Floyd-Warshall): a relay through a third site can beat a long
        direct link when the distances break the triangle inequality."""
        S = self.sites
        d = [[0.0 if i == j else self.delay.get((i, j), float("inf")) for j in range(S)] for i in range(S)]
        for k in range(S):
            for i in range(S):
                for j in range(S):
                    d[i][j] = min(d[i][j], d[i][k] + d[k][j])
        return d


def latency_floor(bed):
    """Some site's result depends on the farthest site's input: the largest
    one-way delay between two sites, along the fastest path."""
    return max(max(row) for row in bed.shortest_delays())


def hier_bound(bed, size):
    """The issue's WAN bound: 2(S-1)/S x bytes / R + one RTT, with R the
    slowest inter-site link and the RTT of the longest link. For 2 sites
    that is the one link; with more sites it is the bound for a schedule
    whose inter-site phase crosses every link (ring over sites), or for
    sites whose WAN traffic shares one uplink of rate R."""
    S = bed.sites
    return 2 * (S - 1) / S * size / bed.slowest_rate() + bed.longest_rtt()


def ring_bound(bed, size):
    """The flat ring's own bound: 2(n-1)/n x bytes / R over the slowest link
    it crosses (bytes only, no latency term), as the issue states it."""
    n = bed.ranks
    return 2 * (n - 1) / n * size / bed.ring_rate()


def mesh_bound(bed, size):
    """A strict lower bound for any schedule on the emulated links, which
    are independent per pair (no shared uplink). Each element must be sent
    across the WAN at least 2(S-1) times in total (the one-way gossip bound)
    and every site must receive `size` bytes from the others; the last byte
    also needs at least one link delay to arrive. The delay floor caps it
    from below for small messages. Equals `size/R + delay` for 2 sites."""
    S = bed.sites
    min_delay = min(bed.delay.values())
    total = 2 * (S - 1) * size / sum(bed.rate.values()) + min_delay
    cuts = []
    for i in range(S):
        incoming = [(j, i) for j in range(S) if (j, i) in bed.rate]
        cuts.append(size / sum(bed.rate[p] for p in incoming) + min(bed.delay[p] for p in incoming))
    return max(total, max(cuts), latency_floor(bed))


def bounds(bed, size):
    return {"hier_bound_us": hier_bound(bed, size) * 1e6, "ring_bound_us": ring_bound(bed, size) * 1e6,
            "mesh_bound_us": mesh_bound(bed, size) * 1e6, "latency_floor_us": latency_floor(bed) * 1e6}
