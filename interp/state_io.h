// State files at op-program scale: streamed in and out, never held whole in memory.
//
// Reading: the file is read in 1 MiB pieces and, for ".gz" names, inflated with ISA-L's
// igzip (a streaming inflater ~3x zlib's speed) straight into the guest pages: no copy of the
// compressed file and no copy of the decompressed one beside the memory. Concatenated gzip
// members are one stream (Go's multistream reader); the 10 GiB decompressed cap, the error
// wording and the "gzip by name" rule are those of file_io.h.
//
// Writing: the serialized state (version byte, page count, pages in ascending order, the
// rest) is cut into 8 MiB segments that TBB workers compress in parallel, each into its own
// gzip member with the reference's 10-byte header; the members are written in order through
// an AtomicFileWriter, so the file is one valid gzip stream that Go's gzip.Reader (and ours)
// reads as a whole. At most 2 segments per worker are in flight (bounded memory). The bytes
// depend only on the state (fixed segment size and level): deterministic on every machine.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "host/file_io.h"
#include "interp/state.h"

namespace cb {

// A byte stream read from a file (gunzipped when is_gzip_path(path)). read() returns fewer
// than n bytes only at the end of the data. Errors throw IoError naming the file.
class InputStream {
 public:
  // `should_abort` is polled between reads and, on pipes and devices, every 100 ms while no
  // data comes; true ends the read with IoError("interrupted while reading ...").
  explicit InputStream(const std::string& path, std::function<bool()> should_abort = {});
  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;
  size_t read(uint8_t* dst, size_t n);
  // gzip: inflates to the end of the current member (checking its CRC-32 and length), reading
  // nothing after it. Raw files: nothing.
  void finish_member();
  // For a raw regular file: the bytes not yet read; otherwise UINT64_MAX (unknown).
  uint64_t remaining_hint() const;
  const std::string& path() const { return m_path; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_path;
};

// Decodes a state from a stream, pages straight into memory. Throws StateFormatError (bad
// content) or IoError (file, gzip). A page count beyond the memory budget is refused before
// any page is read.
State read_state(InputStream& in);
// Reading stops at the state's last field, as the reference's stream decoder does, except
// that a gzip member is read to its end so that its CRC-32 is checked (bytes after that
// member are never read).
State load_state_file(const std::string& path, std::function<bool()> should_abort = {});

// gzip level of state files: ISA-L level 1 (its fastest full deflate level).
inline constexpr int kStateGzipLevel = 1;

// Writes `s` to `path` atomically ("-" = stdout, raw; "" = nothing, returns false). Gzipped
// in parallel (see above) when the name ends in ".gz".
bool save_state_file(const std::string& path, const State& s, const WriteOptions& options = {});

// gzip members of `data` compressed in parallel exactly as save_state_file does (tests).
std::vector<uint8_t> gzip_parallel(std::span<const uint8_t> data, size_t segment_bytes);

}  // namespace cb
