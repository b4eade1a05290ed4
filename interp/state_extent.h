// How many bytes a binary state file occupies, from its first bytes: lets a reader stop at the
// end of the state (as the reference's stream decoder does) and refuse a wrong version byte or
// an oversized state before reading it whole (hostile input: /dev/zero, endless pipes).
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "host/file_io.h"

namespace cb {

// The largest state file read (after gunzip): the reference's 10 GiB gzip cap, applied to raw
// files too. Memory pages dominate a state, so this also bounds a loaded state's memory.
inline constexpr uint64_t kMaxStateFileBytes = kMaxDecompressedSize;

// 0 while `prefix` is too short to know; else the state's total size in bytes (the fields are
// those State::serialize writes), or a lower bound of it as soon as that exceeds `max_bytes`
// (the page count alone can tell). Throws StateFormatError for a wrong version byte (the
// decoder's own message), checked as soon as the first byte is in.
uint64_t state_extent(std::span<const uint8_t> prefix, uint64_t max_bytes = kMaxStateFileBytes);

// ReadLimits for a state file: state_extent, kMaxStateFileBytes (or `max_bytes`, e.g. a
// memory budget), and an interrupt check.
ReadLimits state_read_limits(std::function<bool()> should_abort = {},
                             uint64_t max_bytes = kMaxStateFileBytes);

}  // namespace cb
