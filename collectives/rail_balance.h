// Rail balancing. Rail r (the r-th member of every site) carries a shard of
// the data across sites; when one rail is measurably slower than the others
// (a slower NIC or path, a congested link), hierarchical algorithms give it
// a smaller shard so that every rail finishes together. The runtime
// measures each rank's inter-site receive throughput, gathers the
// measurements on every rank, and sets Network::rail_weights from them with
// these functions, so that every rank computes the same weights.
#pragma once

#include <string>
#include <vector>

#include "collectives/network.h"

namespace strata::collectives {

// Slowest ÷ fastest rail rate below which the rails count as equal (TCP
// flows sharing one link differ by this much from run to run).
inline constexpr double kRailImbalanceToAct = 0.8;
// Weights are multiples of this (relative to an equal share of 1), so that
// small changes in the measurements do not rebuild every cached plan.
inline constexpr double kRailWeightStep = 1.0 / 32;
// No rail gets less than this share, or more than the other bound, of an equal one.
inline constexpr double kMinRailWeight = 0.25;
inline constexpr double kMaxRailWeight = 2.0;

// Each rail's throughput (bytes/s) from what every rank measured of its own
// inter-site receives (`rank_rates`, per rank of the group; 0 where it did
// not measure): a rail is as fast as its slowest member. Only the leading
// rails that were measured count (with more members per site than
// choose_rails' flow cap, the later ones never cross sites); empty unless
// the group spans sites and at least two rails were measured.
std::vector<double> rail_rates(const Network& network, int nranks, const std::vector<double>& rank_rates);

// The next rail weights from the current ones (empty: equal) and the rails'
// measured `rates`: half-way toward shares proportional to the rates, or
// toward equal shares when the rails are within kRailImbalanceToAct of each
// other; clamped, rounded to kRailWeightStep. Empty means equal shares (also
// when every weight is within one step of equal).
std::vector<double> rebalanced_rail_weights(const std::vector<double>& current, const std::vector<double>& rates);

// Weights from a user's list ("1,1,0.5,1"): every entry positive and
// finite. Throws kInvalidArgument naming `what` otherwise.
std::vector<double> parse_rail_weights(const std::string& text, const char* what);

}  // namespace strata::collectives
