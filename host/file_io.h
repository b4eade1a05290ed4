// Whole-file reads and atomic writes with gzip by file name, following the reference's
// op-service/ioutil rules:
//  - gzip is chosen purely by name: a path ending in ".gz" is gunzipped on read and gzipped
//    on write (ioutil.IsGzip). A gzip file without that suffix is read as raw bytes (the
//    state decoder then rejects it by its version byte), a ".gz" file that is not gzip is an
//    error ("failed to create gzip reader: gzip: invalid header" in the reference).
//  - concatenated gzip members are read as one stream (Go's gzip.Reader is multistream);
//    bytes after a member that do not start another member are an error, as in Go.
//  - decompressed data of 10 GiB or more is an error (ioutil.MaxDecompressedSize).
//  - the reference never reads stdin: an empty input path is "no path specified"
//    (serialize.LoadSerializedBinary) and "-" is an ordinary file name.
//  - writes go to a temp file in the destination's directory that is renamed into place
//    (ioutil.AtomicWriter; see AtomicFileWriter for how no temporary outlives its writer); ""
//    writes nothing and "-" writes raw bytes to stdout (ioutil.ToStdOutOrFileOrNoop). The reference
//    chmods the temp file to OutFilePerm 0755 (not masked by umask) and does not fsync; we fsync
//    file and directory as well.
//  - the reference's gzip (Go compress/gzip, DefaultCompression = level 6) writes the
//    10-byte header 1f 8b 08 00 00000000 00 ff (no name, mtime 0, XFL 0, OS 255). We write the
//    same header through zlib; the deflate bytes differ from Go's, the decompressed bytes
//    do not. Output is deterministic for a given zlib build and level.
// Every failure throws cb::IoError with one line naming the path.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cb {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ioutil.MaxDecompressedSize: a gzip file that inflates to this many bytes or more is refused.
inline constexpr uint64_t kMaxDecompressedSize = uint64_t{10} << 30;
// ioutil/run.go OutFilePerm: the mode the reference gives every file it writes.
inline constexpr mode_t kOutFilePerm = 0755;
// Go's gzip.DefaultCompression maps to flate level 6.
inline constexpr int kReferenceGzipLevel = 6;

// True when the reference would treat `path` as gzip: it ends in ".gz" (case-sensitive).
bool is_gzip_path(std::string_view path);

// Bounds for reading one input (hostile input: endless devices, FIFOs, gzip bombs). The
// file is read in 1 MiB chunks; nothing is slurped before it is known to be wanted.
struct ReadLimits {
  // Refuse content (after gunzip) larger than this: "... is larger than the limit of N bytes".
  uint64_t max_bytes = kMaxDecompressedSize;
  // Polled between chunks and, on pipes and devices, at least every 100 ms while waiting
  // for data; returning true ends the read with IoError("interrupted while reading ...").
  std::function<bool()> should_abort;
  // Given the content read so far, returns how many bytes the content occupies in all
  // (0 = not known yet), or throws to refuse it (e.g. a wrong version byte). Reading stops
  // as soon as that many bytes are in; the rest of the file is not read, as a reference
  // decoder reading from a stream would not. A total above max_bytes is refused at once.
  std::function<uint64_t(std::span<const uint8_t>)> extent;
};

// The whole file (or its extent), gunzipped when is_gzip_path(path). Throws IoError, or what
// limits.extent throws.
std::vector<uint8_t> read_file(const std::string& path, const ReadLimits& limits = {});

// Limits for list files (step lists, claims, hashes.txt): 64 MiB.
inline constexpr uint64_t kMaxListFileBytes = uint64_t{64} << 20;
// A text file of at most `max_bytes`: a NUL byte (e.g. /dev/zero, a binary file) is refused
// as soon as its chunk is read ("... is not a text file").
ReadLimits text_file_limits(uint64_t max_bytes = kMaxListFileBytes);
// read_file(path, text_file_limits(max_bytes)), every error naming the path.
std::vector<uint8_t> read_text_file(const std::string& path,
                                    uint64_t max_bytes = kMaxListFileBytes);
// Limits for JSON metadata files (--meta): 1 GiB.
inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{1} << 30;
// Limit for ELF files (load-elf --path): 1 GiB.
inline constexpr uint64_t kMaxElfFileBytes = uint64_t{1} << 30;

// Inflates a complete gzip stream (one or more members). `name` only labels errors.
std::vector<uint8_t> gunzip_bytes(std::span<const uint8_t> gz, const std::string& name,
                                  uint64_t max_size = kMaxDecompressedSize);
// Deflates `data` into one gzip member with the reference's header (see above).
std::vector<uint8_t> gzip_bytes(std::span<const uint8_t> data, int level = kReferenceGzipLevel);

struct WriteOptions {
  mode_t perm = kOutFilePerm;            // applied with fchmod, so the umask does not apply
  int gzip_level = kReferenceGzipLevel;  // 0-9, used only for ".gz" paths
  bool sync = true;                      // fsync the file before and the directory after rename
  bool precompressed = false;            // the bytes are gzip already: never compress them again
};

// Streams one output: "-" = stdout (raw, never gzipped, as the reference), anything else = a
// temp file next to `path` (gzipped when the name ends in ".gz") that commit() renames into
// place. Destroying an uncommitted writer removes the temp file. Not for "" (see write_output).
// No temporary outlives its writer: the temp file is an anonymous O_TMPFILE inode in the
// destination's directory (gone if the writer is killed), named PATH.tmp.PID.XXXXXX only at
// commit, by linkat, right before the rename. Where O_TMPFILE is unsupported it is a named
// PATH.tmp.PID.XXXXXX from the start. Either way the first writer of a process into a
// directory removes the temporaries there whose PID is no longer running (or older than a day).
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path, const WriteOptions& options = {});
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(std::span<const uint8_t> data);
  // Rewrites bytes already written at `offset` (a header completed last); raw files only.
  void overwrite_at(uint64_t offset, std::span<const uint8_t> data);
  void commit();          // finish gzip, fsync, rename; after it the writer is closed
  void abort() noexcept;  // drop the temp file; idempotent

  const std::string& path() const { return m_path; }
  // The temp file's name: "" for stdout and while the temp file is an anonymous O_TMPFILE.
  const std::string& temp_path() const { return m_temp_path; }

 private:
  struct Gzip;
  void write_raw(const uint8_t* p, size_t n);
  void flush_buffer();

  std::string m_path;
  std::string m_temp_path;
  WriteOptions m_options;
  int m_fd = -1;
  bool m_to_stdout = false;
  bool m_done = false;
  std::unique_ptr<Gzip> m_gzip;
  std::vector<uint8_t> m_buffer;  // raw output waiting for write(2)
};

// Writes `data` to `path` atomically (see AtomicFileWriter). "-" = stdout.
void write_file_atomic(const std::string& path, std::span<const uint8_t> data,
                       const WriteOptions& options = {});

// The reference's ToStdOutOrFileOrNoop: "" = write nothing (returns false), "-" = stdout,
// otherwise an atomic write. Returns true when something was written.
bool write_output(const std::string& path, std::span<const uint8_t> data,
                  const WriteOptions& options = {});

}  // namespace cb
