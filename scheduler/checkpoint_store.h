// The on-disk checkpoint store of a trace directory: one file per checkpoint, incremental
// (a delta holds only the pages written since the previous checkpoint), zstd-compressed,
// checksummed, written by a background thread so that execution never waits for the disk.
//
// File `ckpt-<step, 20 decimal digits>.cbck`, all integers big-endian:
//   offset size
//        0    8  magic "CBCKPT\r\n"
//        8    4  format version (1)
//       12    4  kind: 0 = full (every page), 1 = delta (pages changed since the base)
//       16    8  step of this checkpoint
//       24    8  base step: the checkpoint a delta applies to (= step for a full one)
//       32   32  state hash at `step`, computed when the checkpoint was taken
//       64    8  payload size, uncompressed
//       72    8  payload size, compressed (the file is exactly 88 + this long)
//       80    4  CRC-32 (zlib) of the compressed payload
//       84    4  CRC-32 of bytes 0..83 (this header)
//       88    -  payload: one zstd frame (with zstd's own content checksum) of
//                  u64 n, then n bytes: the binary state file (version byte first) of the
//                               state with its memory left out (page count 0)
//                  u64 k, then k bytes: VM registers outside State: 0 bytes, or the 1,920-byte
//                               second memory-proof slot (Vm::proof2_slot) when non-zero
//                  u64 m, then m times: u64 page index, 4,096 bytes of page data
//                               (ascending index; a delta lists new and rewritten pages)
// Pages are never freed in Cannon memory, so base + changed pages is the full memory.
//
// Crash safety: every file is written to a temporary name, fsynced, and renamed into place
// (host/file_io.h), so after a SIGKILL a checkpoint file is either complete or absent.
// Loading checks both CRCs, the zstd checksum, the base chain, and finally recomputes the
// state hash and compares it with the recorded one: a damaged checkpoint is an error naming
// the file, never a silently wrong state.
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

constexpr uint32_t kCheckpointFormatVersion = 2;
// One page in a payload: u64 index, its 32-byte Merkle root, its 4,096 bytes.
constexpr size_t kCheckpointPageRecord = 8 + 32 + 4096;
constexpr size_t kCheckpointHeaderSize = 88;

std::string checkpoint_file_name(uint64_t step);  // "ckpt-00000000000100000000.cbck"

// What a file's header says (read without touching the payload).
struct CheckpointHeader {
  uint32_t version = 0;
  uint32_t kind = 0;  // 0 full, 1 delta
  uint64_t step = 0, base_step = 0;
  Hash32 hash{};
  uint64_t raw_size = 0, packed_size = 0;
  uint32_t payload_crc = 0;
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

// full_every value for the automatic policy: a checkpoint is full when the deltas since the
// last full one hold at least as many pages as the memory has now (a chain then costs at most
// about twice one full checkpoint to load, and a guest that fills a large memory writes it
// about once, not once per 16 checkpoints), or after kAutoMaxChain deltas.
constexpr uint32_t kFullEveryAuto = UINT32_MAX;
constexpr uint32_t kAutoMaxChain = 256;

struct CheckpointWriterOptions {
  int zstd_level = 3;
  uint32_t full_every = kFullEveryAuto;  // every Nth checkpoint is full; 0 = first only
  bool sync = true;        // fsync each file (and the directory) before counting it done
  size_t max_pending = 4;  // submit() blocks while this many checkpoints wait to be written
};

struct CheckpointWriterStats {
  uint64_t files = 0, full_files = 0;
  uint64_t bytes = 0;       // on disk
  uint64_t raw_bytes = 0;   // uncompressed payloads
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

// Reads the checkpoints of a directory. Thread-safe; loaded checkpoints are cached, and a
// delta is built copy-on-write on its (cached) base, so memory grows with the pages that
// differ, not with the number of checkpoints.
class CheckpointReader {
 public:
  explicit CheckpointReader(std::string dir);

  // Steps of the complete checkpoint files present, ascending (temporary files ignored).
  const std::vector<uint64_t>& steps() const { return m_steps; }
  // The step of the latest checkpoint at or before `step`, if any.
  std::optional<uint64_t> at_or_before(uint64_t step) const;
  // Loads (and verifies) one checkpoint. Throws CheckpointError naming the file.
  CheckpointPtr load(uint64_t step);
  // The recorded hash from the file header (cheap; not verified against the state).
  Hash32 recorded_hash(uint64_t step) const;

 private:
  std::string path(uint64_t step) const;

  std::string m_dir;
  std::vector<uint64_t> m_steps;
  std::mutex m_mu;
  std::map<uint64_t, CheckpointPtr> m_cache;
};

}  // namespace cb
