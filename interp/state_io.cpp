// See state_io.h.
#include "interp/state_io.h"

#include <fcntl.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <poll.h>
#include <sys/stat.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

namespace cb {
namespace {

constexpr size_t kReadPiece = size_t{1} << 20;
constexpr size_t kSegmentBytes = size_t{8} << 20;
// The header the reference's Go gzip writer emits: no name, mtime 0, XFL 0, OS 255.
constexpr uint8_t kGzipHeader[10] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff};

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

[[noreturn]] void throw_errno(const std::string& what, const std::string& path, int err) {
  throw IoError(what + " " + quoted(path) + ": " + std::strerror(err));
}

}  // namespace

struct InputStream::Impl {
  int fd = -1;
  bool gzip = false;
  bool regular = false;
  uint64_t file_size = 0, file_pos = 0;
  // gzip state
  inflate_state st{};
  std::vector<uint8_t> in;  // compressed bytes read from the file
  size_t in_pos = 0, in_len = 0;
  bool eof = false;        // the file is exhausted
  bool in_member = false;  // inside a gzip member (its end not reached)
  bool done = false;       // the gzip stream ended (no further member)
  uint64_t members = 0, produced = 0, consumed = 0;
  std::function<bool()> should_abort;

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  size_t read_file(uint8_t* dst, size_t n, const std::string& path) {
    size_t got = 0;
    while (got < n) {
      if (should_abort && should_abort())
        throw IoError("interrupted while reading " + quoted(path));
      if (!regular) {
        // A pipe or device may stay silent: wait in 100 ms slices so that should_abort (a
        // SIGINT/SIGTERM flag) is seen; a blocked read would be restarted (SA_RESTART).
        struct pollfd pfd {
          fd, POLLIN, 0
        };
        int pr = ::poll(&pfd, 1, 100);
        if (pr < 0 && errno != EINTR) throw_errno("failed to read file", path, errno);
        if (pr <= 0) continue;
      }
      ssize_t r = ::read(fd, dst + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_errno("failed to read file", path, errno);
      }
      if (r == 0) break;
      got += size_t(r);
    }
    file_pos += got;
    return got;
  }

  bool refill(const std::string& path) {  // false at the end of the file
    if (in_pos < in_len) return true;
    if (eof) return false;
    in_len = read_file(in.data(), in.size(), path);
    in_pos = 0;
    if (in_len < in.size()) eof = true;
    return in_len > 0;
  }

  [[noreturn]] void corrupt(const std::string& path, const std::string& why) {
    throw IoError("cannot decompress " + quoted(path) + ": corrupt gzip data (" + why + ")");
  }

  size_t inflate_into(uint8_t* dst, size_t n, const std::string& path,
                      bool stop_at_member_end = false) {
    size_t got = 0;
    while (got < n && !done) {
      if (!in_member) {
        // Between members: the end of the data, or the start of another member (Go's
        // multistream gzip.Reader). Anything else is an invalid header, as in Go.
        if (!refill(path)) {
          if (members == 0)
            throw IoError("cannot decompress " + quoted(path) + ": truncated gzip data (no data)");
          done = true;
          break;
        }
        if (in[in_pos] != 0x1f || (in_pos + 1 < in_len && in[in_pos + 1] != 0x8b))
          corrupt(path, "invalid header, after the end of gzip member " + std::to_string(members));
        isal_inflate_reset(&st);
        st.crc_flag = ISAL_GZIP;
        in_member = true;
      }
      if (in_pos == in_len && !refill(path))
        throw IoError(
            "cannot decompress " + quoted(path) + ": truncated gzip data (unexpected end after " +
            std::to_string(consumed + (file_pos - (in_len - in_pos))) + " compressed bytes)");
      st.next_in = in.data() + in_pos;
      st.avail_in = uint32_t(in_len - in_pos);
      st.next_out = dst + got;
      st.avail_out = uint32_t(std::min<size_t>(n - got, 1u << 30));
      int ret = isal_inflate(&st);
      size_t used = (in_len - in_pos) - st.avail_in;
      in_pos += used;
      size_t out = size_t(st.next_out - (dst + got));
      got += out;
      produced += out;
      if (produced >= kMaxDecompressedSize)
        throw IoError("cannot decompress " + quoted(path) +
                      ": decompressed data size exceeds maximum allowed size (" +
                      std::to_string(kMaxDecompressedSize) + " bytes)");
      if (ret == ISAL_INCORRECT_CHECKSUM) corrupt(path, "checksum error");
      if (ret < 0) {
        corrupt(path,
                members > 0 && st.block_state == ISAL_BLOCK_NEW_HDR
                    ? "invalid header, after the end of gzip member " + std::to_string(members)
                    : "invalid data (" + std::to_string(ret) + ")");
      }
      if (st.block_state == ISAL_BLOCK_FINISH) {
        in_member = false;
        ++members;
        if (stop_at_member_end) break;
      }
    }
    return got;
  }
};

InputStream::InputStream(const std::string& path, std::function<bool()> should_abort)
    : m_impl(std::make_unique<Impl>()), m_path(path) {
  if (path.empty()) throw IoError("no path specified");
  Impl& m = *m_impl;
  m.should_abort = std::move(should_abort);
  m.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) throw_errno("failed to open file", path, errno);
  struct stat st {};
  if (::fstat(m.fd, &st) != 0) throw_errno("failed to open file", path, errno);
  if (S_ISDIR(st.st_mode)) throw_errno("failed to read file", path, EISDIR);
  m.regular = S_ISREG(st.st_mode);
  m.file_size = m.regular ? uint64_t(st.st_size) : 0;
  m.gzip = is_gzip_path(path);
  if (m.gzip) {
    m.in.resize(kReadPiece);
    isal_inflate_init(&m.st);
  }
}

InputStream::~InputStream() = default;

size_t InputStream::read(uint8_t* dst, size_t n) {
  return m_impl->gzip ? m_impl->inflate_into(dst, n, m_path) : m_impl->read_file(dst, n, m_path);
}

void InputStream::finish_member() {
  Impl& m = *m_impl;
  if (!m.gzip) return;
  std::vector<uint8_t> sink(64 * 1024);
  while (m.in_member && !m.done) m.inflate_into(sink.data(), sink.size(), m_path, true);
}

uint64_t InputStream::remaining_hint() const {
  const Impl& m = *m_impl;
  if (m.gzip || !m.regular) return UINT64_MAX;
  return m.file_size > m.file_pos ? m.file_size - m.file_pos : 0;
}

namespace {
struct StreamSource : StateSource {
  InputStream& in;
  explicit StreamSource(InputStream& s) : in(s) {}
  size_t read(uint8_t* dst, size_t n) override { return in.read(dst, n); }
  uint64_t remaining_hint() const override { return in.remaining_hint(); }
};
}  // namespace

State read_state(InputStream& in) {
  StreamSource src(in);
  return State::deserialize(src);
}

State load_state_file(const std::string& path, std::function<bool()> should_abort) {
  InputStream in(path, std::move(should_abort));
  State s = read_state(in);
  in.finish_member();
  return s;
}

// --- writing -------------------------------------------------------------------------------

namespace {

// A piece of the serialized stream: bytes owned elsewhere that outlive the write.
struct Piece {
  const uint8_t* p;
  size_t n;
};

// One gzip member of stored deflate blocks (RFC 1951 3.2.4) holding the pieces' bytes.
void store_member(const std::vector<Piece>& pieces, size_t total, std::vector<uint8_t>& out) {
  constexpr size_t kMaxStored = 65535;
  out.assign(kGzipHeader, kGzipHeader + sizeof kGzipHeader);
  out.reserve(out.size() + total + 5 * (total / kMaxStored + 1) + 8);
  uint32_t crc = 0;
  size_t left = total;
  size_t block_left = 0;
  auto open_block = [&] {
    size_t n = std::min(left, kMaxStored);
    out.push_back(n == left ? 1 : 0);  // BFINAL on the last block, BTYPE 00
    out.push_back(uint8_t(n));
    out.push_back(uint8_t(n >> 8));
    out.push_back(uint8_t(~n));
    out.push_back(uint8_t(~n >> 8));
    block_left = n;
  };
  if (total == 0) open_block();
  for (const Piece& pc : pieces) {
    crc = crc32_gzip_refl(crc, pc.p, pc.n);
    size_t done = 0;
    while (done < pc.n) {
      if (block_left == 0) open_block();
      size_t k = std::min(block_left, pc.n - done);
      out.insert(out.end(), pc.p + done, pc.p + done + k);
      done += k;
      block_left -= k;
      left -= k;
    }
  }
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(crc >> (8 * i)));
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(uint32_t(total) >> (8 * i)));
}

// Compresses pieces into one gzip member (reference header, igzip deflate, gzip trailer).
void deflate_member(const std::vector<Piece>& pieces, int level, std::vector<uint8_t>& out) {
  size_t total = 0;
  for (const Piece& pc : pieces) total += pc.n;
  isal_zstream zs;
  isal_deflate_init(&zs);
  std::vector<uint8_t> level_buf;
  zs.level = uint32_t(level);
  if (level == 1) level_buf.resize(ISAL_DEF_LVL1_DEFAULT);
  if (level == 2) level_buf.resize(ISAL_DEF_LVL2_DEFAULT);
  if (level == 3) level_buf.resize(ISAL_DEF_LVL3_DEFAULT);
  zs.level_buf = level_buf.empty() ? nullptr : level_buf.data();
  zs.level_buf_size = uint32_t(level_buf.size());
  zs.gzip_flag = IGZIP_GZIP_NO_HDR;  // our header (the reference's bytes), its trailer
  out.assign(kGzipHeader, kGzipHeader + sizeof kGzipHeader);
  size_t cap = total + total / 16 + 65536;
  out.resize(out.size() + cap);
  size_t pos = sizeof kGzipHeader;
  for (size_t i = 0; i <= pieces.size(); ++i) {
    const bool last = i == pieces.size();
    zs.next_in = last ? nullptr : const_cast<uint8_t*>(pieces[i].p);
    zs.avail_in = last ? 0 : uint32_t(pieces[i].n);
    zs.end_of_stream = last ? 1 : 0;
    do {
      if (out.size() - pos < 4096) out.resize(out.size() + 65536);
      zs.next_out = out.data() + pos;
      zs.avail_out = uint32_t(out.size() - pos);
      if (isal_deflate(&zs) != COMP_OK) throw IoError("gzip: igzip deflate failed");
      pos = size_t(zs.next_out - out.data());
    } while (zs.avail_in > 0 || (last && zs.internal_state.state != ZSTATE_END));
  }
  out.resize(pos);
}

bool incompressible(size_t packed, size_t raw) {
  return packed + raw / 64 > raw + sizeof kGzipHeader;
}

// Incompressible data (random heap words, hashes): deflate gains under 1.5% there, and
// inflating Huffman-coded random bytes costs ~5x a copy. Such a member is stored instead
// (deflate "stored" blocks: a copy to write and to read, ~80 bytes/MiB of framing). The
// segment's first 64 KiB decide whether deflating the whole segment is tried at all.
void compress_member(const std::vector<Piece>& pieces, int level, std::vector<uint8_t>& out) {
  size_t total = 0;
  for (const Piece& pc : pieces) total += pc.n;
  std::vector<Piece> probe;
  size_t probe_bytes = 0;
  for (size_t i = 0; i < pieces.size() && probe_bytes < (64 << 10); ++i) {
    probe.push_back(pieces[i]);
    probe_bytes += pieces[i].n;
  }
  if (probe_bytes < total) {
    deflate_member(probe, level, out);
    if (incompressible(out.size(), probe_bytes)) return store_member(pieces, total, out);
  }
  deflate_member(pieces, level, out);
  if (incompressible(out.size(), total)) store_member(pieces, total, out);
}

// Splits pieces into segments of about kSegmentBytes (a piece is never split: pages are 4 KiB)
// and compresses them in parallel, writing members in order.
void write_gzip_parallel(const std::vector<Piece>& pieces, size_t segment_bytes, int level,
                         const std::function<void(std::span<const uint8_t>)>& sink) {
  struct Seg {
    std::vector<Piece> pieces;
    std::vector<uint8_t> out;
  };
  size_t next = 0;
  const size_t tokens = size_t(2 * tbb::this_task_arena::max_concurrency());
  tbb::parallel_pipeline(
      tokens, tbb::make_filter<void, Seg*>(
                  tbb::filter_mode::serial_in_order,
                  [&](tbb::flow_control& fc) -> Seg* {
                    if (next >= pieces.size() && next != 0) {
                      fc.stop();
                      return nullptr;
                    }
                    auto* seg = new Seg;
                    size_t bytes = 0;
                    while (next < pieces.size() && (bytes < segment_bytes || seg->pieces.empty())) {
                      seg->pieces.push_back(pieces[next]);
                      bytes += pieces[next++].n;
                    }
                    if (pieces.empty()) next = 1;  // one empty member
                    return seg;
                  }) &
                  tbb::make_filter<Seg*, Seg*>(tbb::filter_mode::parallel,
                                               [&](Seg* seg) {
                                                 compress_member(seg->pieces, level, seg->out);
                                                 return seg;
                                               }) &
                  tbb::make_filter<Seg*, void>(tbb::filter_mode::serial_in_order, [&](Seg* seg) {
                    std::unique_ptr<Seg> own(seg);
                    sink(seg->out);
                  }));
}

}  // namespace

std::vector<uint8_t> gzip_parallel(std::span<const uint8_t> data, size_t segment_bytes) {
  std::vector<Piece> pieces;
  for (size_t off = 0; off < data.size(); off += kPageSize)
    pieces.push_back({data.data() + off, std::min<size_t>(kPageSize, data.size() - off)});
  std::vector<uint8_t> out;
  write_gzip_parallel(pieces, segment_bytes, kStateGzipLevel, [&](std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
  });
  return out;
}

bool save_state_file(const std::string& path, const State& s, const WriteOptions& options) {
  if (path.empty()) return false;
  // The serialized stream as pieces: version + page count, per page (index, bytes), the rest.
  const Memory& mem = *s.memory;
  std::vector<uint64_t> keys = mem.sorted_page_indices();
  std::vector<uint8_t> head(9);
  head[0] = kStateVersion;
  store_be64(head.data() + 1, keys.size());
  std::vector<uint8_t> index_be(keys.size() * 8);
  std::vector<uint8_t> tail = s.serialize_tail();
  std::vector<Piece> pieces;
  pieces.reserve(2 * keys.size() + 2);
  pieces.push_back({head.data(), head.size()});
  for (size_t i = 0; i < keys.size(); ++i) {
    store_be64(index_be.data() + 8 * i, keys[i]);
    pieces.push_back({index_be.data() + 8 * i, 8});
    pieces.push_back({mem.find_page(keys[i])->data, kPageSize});
  }
  pieces.push_back({tail.data(), tail.size()});

  const bool gz = path != "-" && is_gzip_path(path);
  WriteOptions wo = options;
  wo.precompressed = true;
  AtomicFileWriter w(path, wo);
  if (gz) {
    write_gzip_parallel(pieces, kSegmentBytes, kStateGzipLevel,
                        [&](std::span<const uint8_t> b) { w.write(b); });
  } else {
    for (const Piece& pc : pieces) w.write(std::span<const uint8_t>(pc.p, pc.n));
  }
  w.commit();
  return true;
}

}  // namespace cb
