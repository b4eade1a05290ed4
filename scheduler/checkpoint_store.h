// The on-disk checkpoint store of a trace directory: one file per checkpoint, incremental
// (a delta holds only the pages written since the previous checkpoint), zstd-compressed,
// checksummed, written by a background thread so that execution never waits for the disk.
//
// File `ckpt-<step, 20 decimal digits>.cbck`, all integers big-endian (format 3):
//   offset size
//        0    8  magic "CBCKPT\r\n"
//        8    4  format version (3)
//       12    4  kind: 0 = full (every page), 1 = delta (pages changed since the base)
//       16    8  step of this checkpoint
//       24    8  base step: the checkpoint a delta applies to (= step for a full one)
//       32   32  state hash at `step`, computed when the checkpoint was taken
//       64    8  size of the index frame (the last bytes of the file)
//       72    8  payload size (the file is exactly 88 + this long)
//       80    4  CRC-32 (zlib) of the index frame
//       84    4  CRC-32 of bytes 0..83 (this header)
//       88    -  blocks: one zstd frame each (content size and zstd's checksum), block i holding
//                  the bytes of pages [i*P, (i+1)*P) of the index's page list, 4,096 each
//        -    -  index: one zstd frame of
//                  u64 n, then n bytes: the binary state file (version byte first) of the
//                               state with its memory left out (page count 0)
//                  u64 k, then k bytes: VM registers outside State: 0 bytes, or the 1,920-byte
//                               second memory-proof slot (Vm::proof2_slot) when non-zero
//                  u64 m, then m times: u64 page index, its 32-byte Merkle root
//                               (ascending index; a delta lists new and rewritten pages)
//                  u64 P (pages per block, 1..4096), u64 b (= ceil(m / P)), then b times:
//                               u64 compressed size, u32 CRC-32 of the block's frame
// Pages are never freed in Cannon memory, so base + changed pages is the full memory.
//
// Why blocks and an index: loading reads only the headers and indices of a chain, which give
// every page's root, so the state hash is checked and the memory root known without page
// bytes; pages stay lazy (memory/lazy_pages.h) and a block is read, checked (its CRC and
// zstd's checksum) and inflated only when the run touches one of its pages. `prove` of one
// step of a 1 GiB guest thus reads the pages its replay touches, not the whole memory.
//
// Crash safety: every file is written to a temporary name, fsynced, and renamed into place
// (host/file_io.h), so after a SIGKILL a checkpoint file is either complete or absent.
// Loading checks both CRCs, the index, the sizes, the base chain, and finally recomputes the
// state hash from the recorded roots and compares it with the recorded one: a damaged
// checkpoint is an error naming the file, never a silently wrong state. A damaged block is
// found when it is first read: the run stops with one error line naming the file
// (memory_fault, memory/page_pool.h).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/checkpoint.h"

namespace cb {

// A checkpoint file that is missing, damaged or inconsistent (one line naming the file).
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr uint32_t kCheckpointFormatVersion = 3;
// One page in an index: u64 index, its 32-byte Merkle root.
constexpr size_t kCheckpointIndexRecord = 8 + 32;
// One block in an index: u64 compressed size, u32 CRC-32.
constexpr size_t kCheckpointBlockRecord = 8 + 4;
constexpr size_t kCheckpointHeaderSize = 88;
// Pages per block written: 256 KiB of page bytes, inflated whole when one page is needed.
constexpr uint64_t kCheckpointPagesPerBlock = 64;

std::string checkpoint_file_name(uint64_t step);  // "ckpt-00000000000100000000.cbck"

// What a file's header says (read without touching the payload).
struct CheckpointHeader {
  uint32_t version = 0;
  uint32_t kind = 0;  // 0 full, 1 delta
  uint64_t step = 0, base_step = 0;
  Hash32 hash{};
  uint64_t index_size = 0, payload_size = 0;
  uint32_t index_crc = 0;
};

// Encodes a checkpoint file: full when `base` is null, else a delta against `base` (pages
// whose Page object differs from the base's, which copy-on-write makes exactly the pages
// written in between). Deterministic for a given zstd level.
std::vector<uint8_t> encode_checkpoint(const Checkpoint& c, const Checkpoint* base, int zstd_level);
// Decodes and checks the header (the first kCheckpointHeaderSize bytes of a file of
// `file_size` bytes). Throws CheckpointError.
CheckpointHeader decode_checkpoint_header(std::span<const uint8_t> header, uint64_t file_size,
                                          const std::string& name);
// Reads and checks the header of a checkpoint file without reading its payload.
CheckpointHeader read_checkpoint_header(const std::string& path);

// full_every value for the automatic policy (auto_full_checkpoint): a checkpoint is full when
// the chain a reader would load for it (the last full checkpoint's pages plus the deltas'
// since) would hold at least twice the pages a full one holds (the memory now), or after
// kAutoMaxChain deltas (each delta costs its loader one file: ~0.1 s for a whole chain). So a
// chain end costs at most about twice one full checkpoint to load, a memory rewritten in
// place gets a full checkpoint once the deltas have written about as much as it holds, and a
// guest that fills a large memory writes it once, as deltas. (The rule was "deltas >= the
// memory, or 256 of them" until the 1 and 4 GiB measurements: a filling guest then wrote a
// whole extra copy of its memory in full checkpoints.)
constexpr uint32_t kFullEveryAuto = UINT32_MAX;
constexpr uint64_t kAutoMaxChain = 2048;
// The automatic policy's decision for the next checkpoint, of `page_count` pages, after
// `deltas` delta checkpoints (holding `delta_pages` pages in all) on a full one of
// `base_pages` pages.
constexpr bool auto_full_checkpoint(uint64_t deltas, uint64_t base_pages, uint64_t delta_pages,
                                    uint64_t page_count) {
  return deltas >= kAutoMaxChain || base_pages + delta_pages >= 2 * page_count;
}

struct CheckpointWriterOptions {
  int zstd_level = 3;
  uint32_t full_every = kFullEveryAuto;  // every Nth checkpoint is full; 0 = first only
  bool sync = true;        // fsync each file (and the directory) before counting it done
  size_t max_pending = 4;  // submit() blocks while this many checkpoints wait to be written
};

struct CheckpointWriterStats {
  uint64_t files = 0, full_files = 0;
  uint64_t bytes = 0;       // on disk
  uint64_t raw_bytes = 0;   // uncompressed payloads (page bytes and indices)
  uint64_t pages = 0;       // pages written in all files
  double busy_seconds = 0;  // time the background thread spent encoding and writing
};

// Writes checkpoints in the background, in submission order.
class CheckpointWriter {
 public:
  CheckpointWriter(std::string dir, CheckpointWriterOptions options = {});
  ~CheckpointWriter();  // finish(), swallowing errors
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Queues a checkpoint (steps must increase). Throws the background error, if any.
  void submit(CheckpointPtr c);
  // Waits until everything queued is on disk. Throws CheckpointError / IoError from the
  // background thread.
  void finish();
  CheckpointWriterStats stats() const;

 private:
  void loop();

  std::string m_dir;
  CheckpointWriterOptions m_options;
  mutable std::mutex m_mu;
  std::condition_variable m_cv;
  std::deque<CheckpointPtr> m_queue;
  bool m_busy = false, m_stop = false;
  std::exception_ptr m_error;
  CheckpointWriterStats m_stats;
  std::thread m_thread;
};

// Reads the checkpoints of a directory. Thread-safe; loaded checkpoints are cached. A loaded
// checkpoint's pages are lazy (read from their blocks when a restored copy touches them), and
// a delta's index is built on its (cached) base's, so memory grows with the pages read and
// the indices, not with the number of checkpoints.
class CheckpointReader {
 public:
  explicit CheckpointReader(std::string dir);

  // Steps of the complete checkpoint files present, ascending (temporary files ignored).
  const std::vector<uint64_t>& steps() const { return m_steps; }
  // The step of the latest checkpoint at or before `step`, if any.
  std::optional<uint64_t> at_or_before(uint64_t step) const;
  // Loads (and verifies, all but the page blocks) one checkpoint. Throws CheckpointError
  // naming the file.
  CheckpointPtr load(uint64_t step);
  // The recorded hash from the file header (cheap; not verified against the state).
  Hash32 recorded_hash(uint64_t step) const;

 private:
  std::string path(uint64_t step) const;

  std::string m_dir;
  std::vector<uint64_t> m_steps;
  std::mutex m_mu;
  struct Loaded {
    CheckpointPtr checkpoint;
    std::shared_ptr<const LazyPages> pages;  // every page of the checkpoint, lazy
  };
  std::map<uint64_t, Loaded> m_cache;
};

}  // namespace cb
