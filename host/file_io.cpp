// See file_io.h for the reference behaviour followed here.
#include "host/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>

namespace cb {
namespace {

constexpr size_t kReadChunk = size_t{1} << 20;
constexpr size_t kWriteBuffer = size_t{1} << 20;
// zlib's windowBits for "gzip wrapper only, 32 KiB window": Go accepts nothing but gzip.
constexpr int kGzipWindowBits = 15 + 16;

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

[[noreturn]] void throw_errno(const std::string& what, const std::string& path, int err) {
  throw IoError(what + " " + quoted(path) + ": " + std::strerror(err));
}

// Streaming gunzip of any number of concatenated members into a growing vector. With an
// extent function (ReadLimits::extent) it stops as soon as the content is complete.
class Inflater {
 public:
  Inflater(const std::string& name, uint64_t max_size, const ReadLimits* limits = nullptr)
      : m_name(name), m_max_size(max_size), m_limits(limits) {
    std::memset(&m_zs, 0, sizeof m_zs);
    if (inflateInit2(&m_zs, kGzipWindowBits) != Z_OK) {
      throw IoError("cannot decompress " + quoted(m_name) + ": zlib initialisation failed");
    }
  }
  ~Inflater() { inflateEnd(&m_zs); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  void reserve(uint64_t n) { m_out.reserve(static_cast<size_t>(std::min(n, m_max_size))); }
  bool done() const { return m_done; }

  void feed(const uint8_t* data, size_t n) {
    while (n > 0 && !m_done) {
      // zlib's avail_in is 32-bit; feed huge spans in pieces.
      const size_t piece = std::min<size_t>(n, 1u << 30);
      m_zs.next_in = const_cast<Bytef*>(data);
      m_zs.avail_in = static_cast<uInt>(piece);
      drain();
      data += piece;
      n -= piece;
    }
  }

  std::vector<uint8_t> finish() {
    if (m_done) {
      m_out.resize(static_cast<size_t>(m_total));
      m_out.shrink_to_fit();
      return std::move(m_out);
    }
    if (m_in_member || m_members == 0) {
      // Go reports io.ErrUnexpectedEOF ("unexpected EOF") or, for an empty file, io.EOF.
      throw IoError("cannot decompress " + quoted(m_name) + ": truncated gzip data (" +
                    (m_members == 0 && m_zs.total_in == 0 && m_consumed == 0
                         ? std::string("no data")
                         : "unexpected end after " + std::to_string(m_consumed + m_zs.total_in) +
                               " compressed bytes") +
                    ")");
    }
    // io.LimitedReader: reaching the cap exactly is already an error in the reference.
    if (m_produced >= m_max_size) too_big();
    m_out.resize(m_produced);
    m_out.shrink_to_fit();
    return std::move(m_out);
  }

 private:
  // After each inflate() call: ask the extent function whether the content is complete.
  void check_extent() {
    if (m_limits == nullptr) return;
    if (m_limits->should_abort && m_limits->should_abort())
      throw IoError("interrupted while reading " + quoted(m_name));
    if (!m_limits->extent) return;
    if (m_total == 0)
      m_total = m_limits->extent(std::span<const uint8_t>(m_out.data(), m_produced));
    if (m_total > m_max_size) too_big();
    if (m_total != 0 && m_produced >= m_total) m_done = true;
  }

  void drain() {
    while (m_zs.avail_in > 0 && !m_done) {
      m_in_member = true;
      const uint64_t limit = m_total != 0 ? m_total : m_max_size;
      if (m_produced >= m_max_size) too_big();
      if (m_out.size() - m_produced < 64 * 1024 && m_out.size() < limit) {
        // Double (amortised), but within a reserve() hint grow only to the hint.
        uint64_t grown = std::max<uint64_t>(uint64_t(m_out.size()) * 2, m_produced + 64 * 1024);
        if (m_out.capacity() > m_out.size())
          grown = std::max<uint64_t>(m_out.capacity(), m_produced + 64 * 1024);
        m_out.resize(static_cast<size_t>(std::min(grown, limit)));
      }
      // At most 4 MiB per call, so the extent function sees the content early.
      const uint64_t room = std::min<uint64_t>(m_out.size() - m_produced, 4u << 20);
      m_zs.next_out = m_out.data() + m_produced;
      m_zs.avail_out = static_cast<uInt>(room);
      const int ret = inflate(&m_zs, Z_NO_FLUSH);
      m_produced += room - m_zs.avail_out;
      check_extent();
      if (m_done) return;
      if (ret == Z_STREAM_END) {
        // One member done; another may follow (Go's multistream gzip.Reader).
        m_in_member = false;
        ++m_members;
        m_consumed += m_zs.total_in;
        if (inflateReset(&m_zs) != Z_OK) corrupt("zlib reset failed");
        continue;
      }
      if (ret == Z_OK) continue;
      if (ret == Z_BUF_ERROR && m_zs.avail_out == 0) {
        if (m_produced >= m_max_size) too_big();
        continue;  // needs more room: the next round grows the buffer
      }
      if (ret == Z_MEM_ERROR) corrupt("out of memory");
      corrupt(m_zs.msg != nullptr ? m_zs.msg : "invalid data");
    }
  }

  [[noreturn]] void corrupt(const char* why) {
    const bool header = m_members > 0 && m_zs.total_in < 10;
    throw IoError("cannot decompress " + quoted(m_name) + ": corrupt gzip data (" + why +
                  (header ? ", after the end of gzip member " + std::to_string(m_members) : "") +
                  ")");
  }
  [[noreturn]] void too_big() {
    throw IoError("cannot decompress " + quoted(m_name) +
                  ": decompressed data size exceeds maximum allowed size (" +
                  std::to_string(m_max_size) + " bytes)");
  }

  std::string m_name;
  uint64_t m_max_size;
  const ReadLimits* m_limits;
  z_stream m_zs;
  std::vector<uint8_t> m_out;
  uint64_t m_produced = 0;
  uint64_t m_consumed = 0;  // compressed bytes of finished members
  uint64_t m_members = 0;
  uint64_t m_total = 0;  // the content's extent once known
  bool m_in_member = false;
  bool m_done = false;
};

// gzip header the reference writes: no name/comment/extra, mtime 0, OS 255 ("unknown").
void set_reference_header(z_stream* zs, gz_header* header) {
  std::memset(header, 0, sizeof *header);
  header->os = 255;
  deflateSetHeader(zs, header);
}

int clamp_level(int level) { return level < 0 || level > 9 ? Z_DEFAULT_COMPRESSION : level; }

// read(2) until `n` bytes or EOF; returns the count read. On pipes and devices (`pollable`)
// waits in poll() slices of 100 ms so that `should_abort` is honoured while no data comes
// (signal handlers installed with SA_RESTART would otherwise restart a blocked read).
size_t read_fully(int fd, uint8_t* p, size_t n, const std::string& path,
                  const ReadLimits* limits = nullptr, bool pollable = false) {
  size_t got = 0;
  auto aborted = [&] {
    return limits != nullptr && limits->should_abort && limits->should_abort();
  };
  while (got < n) {
    if (aborted()) throw IoError("interrupted while reading " + quoted(path));
    if (pollable) {
      struct pollfd pfd {
        fd, POLLIN, 0
      };
      const int pr = ::poll(&pfd, 1, 100);
      if (pr < 0 && errno != EINTR) throw_errno("failed to read file", path, errno);
      if (pr <= 0) continue;
    }
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("failed to read file", path, errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
    if (pollable) break;  // hand what came to the caller (a pipe may pause for long)
  }
  return got;
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& label) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("failed to write", label, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool is_gzip_path(std::string_view path) { return path.ends_with(".gz"); }

std::vector<uint8_t> gunzip_bytes(std::span<const uint8_t> gz, const std::string& name,
                                  uint64_t max_size) {
  Inflater inflater(name, max_size);
  inflater.feed(gz.data(), gz.size());
  return inflater.finish();
}

std::vector<uint8_t> gzip_bytes(std::span<const uint8_t> data, int level) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, clamp_level(level), Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw IoError("gzip: zlib initialisation failed");
  }
  gz_header header;
  set_reference_header(&zs, &header);
  std::vector<uint8_t> out(deflateBound(&zs, data.size() > (1u << 30) ? (1u << 30) : data.size()) +
                           64);
  size_t produced = 0;
  const uint8_t* p = data.data();
  size_t left = data.size();
  int ret = Z_OK;
  do {
    const size_t piece = std::min<size_t>(left, 1u << 30);
    zs.next_in = const_cast<Bytef*>(p);
    zs.avail_in = static_cast<uInt>(piece);
    p += piece;
    left -= piece;
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      if (out.size() - produced < 64 * 1024) out.resize(out.size() * 2 + 64 * 1024);
      const size_t room = std::min<size_t>(out.size() - produced, 1u << 30);
      zs.next_out = out.data() + produced;
      zs.avail_out = static_cast<uInt>(room);
      ret = deflate(&zs, flush);
      produced += room - zs.avail_out;
      if (ret == Z_STREAM_ERROR) {
        deflateEnd(&zs);
        throw IoError("gzip: deflate failed");
      }
    } while (zs.avail_in > 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
  } while (left > 0);
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

std::vector<uint8_t> read_file(const std::string& path, const ReadLimits& limits) {
  // serialize.LoadSerializedBinary / jsonutil.load: no stdin fallback.
  if (path.empty()) throw IoError("no path specified");
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw_errno("failed to open file", path, errno);
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw_errno("failed to open file", path, errno);
  if (S_ISDIR(st.st_mode)) throw_errno("failed to read file", path, EISDIR);
  const bool regular = S_ISREG(st.st_mode);
  const uint64_t max = limits.max_bytes;
  auto too_big = [&] {
    throw IoError("file " + quoted(path) + " is larger than the limit of " + std::to_string(max) +
                  " bytes");
  };

  if (!is_gzip_path(path)) {
    // A regular file larger than the limit is refused unread, unless only its extent is read.
    if (regular && !limits.extent && uint64_t(st.st_size) > max) too_big();
    std::vector<uint8_t> out;
    if (regular) out.reserve(static_cast<size_t>(std::min<uint64_t>(uint64_t(st.st_size), max)));
    uint64_t total = 0;
    size_t got = 0;
    for (;;) {
      // The size may change under us, and pipes/devices report 0: read chunks to EOF.
      size_t want = kReadChunk;
      if (total != 0) want = static_cast<size_t>(std::min<uint64_t>(want, total - got));
      out.resize(got + want);
      const size_t n = read_fully(file.fd, out.data() + got, want, path, &limits, !regular);
      got += n;
      out.resize(got);
      if (limits.extent && total == 0) {
        total = limits.extent(std::span<const uint8_t>(out.data(), got));
        if (total > max) {
          // A short regular file claiming more: read it whole (bounded), the decoder reports
          // the truncation. Otherwise refuse before reading any further.
          if (regular && uint64_t(st.st_size) <= max) {
            total = uint64_t(st.st_size);
          } else {
            throw IoError("file " + quoted(path) + " declares " + std::to_string(total) +
                          " bytes, above the limit of " + std::to_string(max) + " bytes");
          }
        }
      }
      if (total != 0 && got >= total) {
        out.resize(static_cast<size_t>(total));
        break;
      }
      if (n == 0 || (regular && n < want)) break;
      if (got > max) too_big();
    }
    if (got > max) too_big();
    out.shrink_to_fit();
    return out;
  }

  Inflater inflater(path, max, &limits);
  if (regular && st.st_size >= 18 && !limits.extent) {
    // The last member's ISIZE (size mod 2^32) is a good guess for one-member files.
    uint8_t tail[4];
    if (::pread(file.fd, tail, 4, st.st_size - 4) == 4) {
      const uint64_t isize = uint64_t(tail[0]) | uint64_t(tail[1]) << 8 | uint64_t(tail[2]) << 16 |
                             uint64_t(tail[3]) << 24;
      // Deflate cannot expand more than ~1032:1; ignore implausible hints.
      if (isize <= uint64_t(st.st_size) * 1032) inflater.reserve(isize);
    }
  }
  std::vector<uint8_t> chunk(kReadChunk);
  while (!inflater.done()) {
    const size_t n = read_fully(file.fd, chunk.data(), chunk.size(), path, &limits, !regular);
    if (n == 0) break;
    inflater.feed(chunk.data(), n);
    if (regular && n < chunk.size()) break;
  }
  return inflater.finish();
}

ReadLimits text_file_limits(uint64_t max_bytes) {
  ReadLimits l;
  l.max_bytes = max_bytes;
  l.extent = [scanned = size_t{0}](std::span<const uint8_t> b) mutable -> uint64_t {
    const void* nul = std::memchr(b.data() + scanned, 0, b.size() - scanned);
    if (nul != nullptr)
      throw IoError("not a text file (a NUL byte at offset " +
                    std::to_string(static_cast<const uint8_t*>(nul) - b.data()) + ")");
    scanned = b.size();
    return 0;
  };
  return l;
}

std::vector<uint8_t> read_text_file(const std::string& path, uint64_t max_bytes) {
  try {
    return read_file(path, text_file_limits(max_bytes));
  } catch (const IoError& e) {
    const std::string what = e.what();
    throw IoError(what.find(path) == std::string::npos ? path + ": " + what : what);
  }
}

// ---------------------------------------------------------------------------------------------

struct AtomicFileWriter::Gzip {
  z_stream zs;
  gz_header header;
  bool live = false;
  ~Gzip() {
    if (live) deflateEnd(&zs);
  }
};

namespace {

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// Our temporaries are named BASE.tmp.PID.XXXXXX (PID of the writer, 6 random characters).
// Returns the PID when `name` is one.
bool temp_owner(std::string_view name, long* pid) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos) return false;
  std::string_view rest = name.substr(at + 5);
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || rest.size() - dot - 1 != 6) return false;
  long v = 0;
  for (char c : rest.substr(0, dot)) {
    if (c < '0' || c > '9' || v > 100'000'000) return false;
    v = v * 10 + (c - '0');
  }
  *pid = v;
  return true;
}

// Removes the temporaries in `dir` left by writers that died (kill -9, power loss): their
// PID no longer runs, or they are older than a day (a PID since reused). Once per directory
// per process, the first time that process writes into it.
void remove_stale_temporaries(const std::string& dir) {
  static std::mutex mu;
  static std::set<std::string> done;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!done.insert(dir).second) return;
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const long self = long(::getpid());
  const time_t now = ::time(nullptr);
  while (const dirent* e = ::readdir(d)) {
    long pid = 0;
    if (!temp_owner(e->d_name, &pid) || pid == self) continue;
    const std::string full = dir + "/" + e->d_name;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const bool dead = pid <= 0 || (::kill(pid_t(pid), 0) != 0 && errno == ESRCH);
    if (dead || now - st.st_mtime > 24 * 3600) (void)::unlink(full.c_str());
  }
  ::closedir(d);
}

std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  static const char* chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = uint64_t(ts.tv_nsec) ^ uint64_t(ts.tv_sec) << 30 ^
               (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull) ^ uint64_t(::getpid()) << 40;
  std::string out;
  for (int i = 0; i < 6; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 29;
    out += chars[x % 62];
  }
  return out;
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path, const WriteOptions& options)
    : m_path(path), m_options(options) {
  if (path.empty()) throw IoError("no output path specified");
  if (path == "-") {
    // ToStdOut: the raw bytes, never compressed (CompressByFileType sits in the atomic writer).
    m_to_stdout = true;
    m_fd = STDOUT_FILENO;
  } else {
    // os.CreateTemp(filepath.Dir(path), filepath.Base(path)): same directory, so rename is atomic.
    // We first try an anonymous O_TMPFILE inode there: a writer killed mid-write leaves
    // nothing behind. It gets a name only at commit (linkat, then rename at once).
    const std::string dir = dir_of(path);
    remove_stale_temporaries(dir);
    // linkat needs /proc/self/fd (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
    static const bool have_proc = ::access("/proc/self/fd", X_OK) == 0;
    m_fd = have_proc ? ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600) : -1;
    if (m_fd < 0) {
      // No O_TMPFILE on this file system: a named temporary (removed by the next writer
      // into this folder should we die).
      const size_t slash = path.rfind('/');
      std::string templ = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) +
                          path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp." +
                          std::to_string(::getpid()) + ".XXXXXX";
      m_fd = ::mkostemp(templ.data(), O_CLOEXEC);
      if (m_fd < 0) {
        const int err = errno;
        throw IoError("failed to create temporary file for " + quoted(path) + " in " + quoted(dir) +
                      ": " + std::strerror(err));
      }
      m_temp_path = templ;
    }
    // f.Chmod(perm): an explicit mode, not filtered by the umask.
    if (::fchmod(m_fd, m_options.perm) != 0) {
      const int err = errno;
      abort();
      throw_errno("failed to set the mode of", m_temp_path.empty() ? m_path : m_temp_path, err);
    }
    if (is_gzip_path(path) && !m_options.precompressed) {
      m_gzip = std::make_unique<Gzip>();
      std::memset(&m_gzip->zs, 0, sizeof m_gzip->zs);
      if (deflateInit2(&m_gzip->zs, clamp_level(m_options.gzip_level), Z_DEFLATED, kGzipWindowBits,
                       8, Z_DEFAULT_STRATEGY) != Z_OK) {
        abort();
        throw IoError("failed to write " + quoted(path) + ": zlib initialisation failed");
      }
      m_gzip->live = true;
      set_reference_header(&m_gzip->zs, &m_gzip->header);
    }
  }
  m_buffer.reserve(kWriteBuffer);
}

AtomicFileWriter::~AtomicFileWriter() { abort(); }

void AtomicFileWriter::flush_buffer() {
  // Leave the buffer empty even when write(2) throws.
  struct Clear {
    std::vector<uint8_t>& v;
    ~Clear() { v.clear(); }
  } clear{m_buffer};
  write_all(m_fd, m_buffer.data(), m_buffer.size(), m_to_stdout ? std::string("-") : m_path);
}

void AtomicFileWriter::write_raw(const uint8_t* p, size_t n) {
  if (m_buffer.size() + n > kWriteBuffer) flush_buffer();
  if (n >= kWriteBuffer) {
    // Large spans go straight to the file without a copy.
    write_all(m_fd, p, n, m_to_stdout ? std::string("-") : m_path);
    return;
  }
  m_buffer.insert(m_buffer.end(), p, p + n);
}

void AtomicFileWriter::write(std::span<const uint8_t> data) {
  if (m_done) throw IoError("failed to write " + quoted(m_path) + ": writer already closed");
  if (!m_gzip) {
    write_raw(data.data(), data.size());
    return;
  }
  uint8_t out[64 * 1024];
  const uint8_t* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const size_t piece = std::min<size_t>(left, 1u << 30);
    m_gzip->zs.next_in = const_cast<Bytef*>(p);
    m_gzip->zs.avail_in = static_cast<uInt>(piece);
    p += piece;
    left -= piece;
    while (m_gzip->zs.avail_in > 0) {
      m_gzip->zs.next_out = out;
      m_gzip->zs.avail_out = sizeof out;
      if (deflate(&m_gzip->zs, Z_NO_FLUSH) == Z_STREAM_ERROR) {
        throw IoError("failed to write " + quoted(m_path) + ": deflate failed");
      }
      write_raw(out, sizeof out - m_gzip->zs.avail_out);
    }
  }
}

void AtomicFileWriter::overwrite_at(uint64_t offset, std::span<const uint8_t> data) {
  if (m_done || m_gzip || m_to_stdout)
    throw IoError("failed to write " + quoted(m_path) + ": cannot rewrite");
  flush_buffer();
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::pwrite(m_fd, data.data() + done, data.size() - done, off_t(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("failed to write", m_path, errno);
    }
    done += size_t(w);
  }
}

void AtomicFileWriter::commit() {
  if (m_done) throw IoError("failed to write " + quoted(m_path) + ": writer already closed");
  if (m_gzip) {
    uint8_t out[64 * 1024];
    int ret;
    do {
      m_gzip->zs.next_in = nullptr;
      m_gzip->zs.avail_in = 0;
      m_gzip->zs.next_out = out;
      m_gzip->zs.avail_out = sizeof out;
      ret = deflate(&m_gzip->zs, Z_FINISH);
      if (ret == Z_STREAM_ERROR)
        throw IoError("failed to write " + quoted(m_path) + ": deflate failed");
      write_raw(out, sizeof out - m_gzip->zs.avail_out);
    } while (ret != Z_STREAM_END);
  }
  flush_buffer();
  if (m_to_stdout) {
    m_done = true;
    return;
  }
  if (m_options.sync && ::fsync(m_fd) != 0)
    throw_errno("failed to sync", m_temp_path.empty() ? m_path : m_temp_path, errno);
  if (m_temp_path.empty()) {
    // The anonymous inode gets its temporary name only now, right before the rename.
    const std::string proc = "/proc/self/fd/" + std::to_string(m_fd);
    const std::string stem = m_path + ".tmp." + std::to_string(::getpid()) + ".";
    for (int attempt = 0;; ++attempt) {
      std::string name = stem + random_suffix();
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        m_temp_path = name;
        break;
      }
      if (errno != EEXIST || attempt > 100) {
        const int err = errno;
        throw IoError("failed to name the temporary file for " + quoted(m_path) + ": " +
                      std::strerror(err));
      }
    }
  }
  const int fd = m_fd;
  m_fd = -1;
  if (::close(fd) != 0) throw_errno("failed to finish write of", m_temp_path, errno);
  if (::rename(m_temp_path.c_str(), m_path.c_str()) != 0) {
    const int err = errno;
    throw IoError("failed to rename " + quoted(m_temp_path) + " to " + quoted(m_path) + ": " +
                  std::strerror(err));
  }
  m_temp_path.clear();
  m_done = true;
  if (m_options.sync) {
    // Make the rename itself durable. Some file systems refuse fsync on a directory: ignore.
    Fd d{::open(dir_of(m_path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd >= 0) (void)::fsync(d.fd);
  }
}

void AtomicFileWriter::abort() noexcept {
  if (m_done) return;
  m_done = true;
  if (!m_to_stdout && m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (!m_temp_path.empty()) ::unlink(m_temp_path.c_str());
  m_temp_path.clear();
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> data,
                       const WriteOptions& options) {
  AtomicFileWriter writer(path, options);
  writer.write(data);
  writer.commit();
}

bool write_output(const std::string& path, std::span<const uint8_t> data,
                  const WriteOptions& options) {
  if (path.empty()) return false;  // NoOutputStream: skip the content entirely
  write_file_atomic(path, data, options);
  return true;
}

}  // namespace cb
