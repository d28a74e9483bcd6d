#include "runtime/device/scratch_space.h"

#include <utility>

#include "common/error.h"

namespace strata::runtime {
namespace {

// What each rank tells the others about its new scratch.
struct Record {
  uint64_t ok = 0;       // 0: this rank could not allocate or export
  uint64_t process = 0;  // peers of the same process use `address`
  uint64_t address = 0;
  ScratchExporter::Handle handle{};
};

bool everyone_agrees(const ScratchGroup& group, bool mine) {
  std::vector<uint8_t> all(group.size);
  const uint8_t flag = mine ? 1 : 0;
  group.all_gather(&flag, all.data(), 1);
  for (uint8_t f : all) {
    if (f == 0) return false;
  }
  return true;
}

}  // namespace

ScratchSpace::ScratchSpace(ScratchGroup group, ScratchExporter& exporter, uint64_t process)
    : group_(std::move(group)), exporter_(exporter), process_(process) {
  mapped_.rank = group_.rank;
  mapped_.size = group_.size;
  mapped_.barrier = group_.barrier;
}

ScratchSpace::~ScratchSpace() {
  peers_.clear();  // unmap the peers' scratch before freeing this rank's
  mine_.reset();
}

bool ScratchSpace::ensure(uint64_t wanted) {
  if (refused_) return false;
  if (mine_ && mapped_.half_bytes >= wanted) return true;
  uint64_t half = kMinHalf;
  while (half < wanted) half *= 2;

  Record record;
  std::shared_ptr<void> grown;
  std::byte* data = nullptr;
  try {
    grown = exporter_.allocate(2 * half, data, record.handle);
    record.ok = 1;
    record.process = process_;
    record.address = reinterpret_cast<uint64_t>(data);
  } catch (const Error&) {
    record = Record{};  // the others learn it from the exchange
  }
  std::vector<Record> records(group_.size);
  group_.all_gather(&record, records.data(), sizeof record);

  bool ok = true;
  for (const Record& r : records) ok = ok && r.ok != 0;
  std::vector<std::shared_ptr<void>> peers(group_.size);
  std::vector<std::byte*> base(group_.size);
  for (int peer = 0; ok && peer < group_.size; ++peer) {
    if (peer == group_.rank) {
      base[peer] = data;
    } else if (records[peer].process == process_) {
      base[peer] = reinterpret_cast<std::byte*>(records[peer].address);
    } else {
      try {
        peers[peer] = exporter_.open(records[peer].handle, base[peer]);
      } catch (const Error&) {
        ok = false;
      }
    }
  }
  // Unmap the peers' old scratch before agreeing: once everyone agreed,
  // nobody maps the old scratch that this rank frees below.
  peers_.clear();
  const bool agreed = everyone_agrees(group_, ok);
  mine_.reset();
  if (!agreed) {
    refused_ = true;
    mapped_.base.clear();
    mapped_.half_bytes = 0;
    return false;
  }
  mine_ = std::move(grown);
  peers_ = std::move(peers);
  mapped_.base = std::move(base);
  mapped_.half_bytes = half;
  return true;
}

}  // namespace strata::runtime
