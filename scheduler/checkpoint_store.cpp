#include "scheduler/checkpoint_store.h"

#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "host/file_io.h"
#include "memory/page_pool.h"

#include <fcntl.h>
#include <isa-l/crc.h>
#include <unistd.h>

namespace cb {

namespace {

constexpr char kMagic[8] = {'C', 'B', 'C', 'K', 'P', 'T', '\r', '\n'};

// CRC-32 (IEEE, as zlib's crc32): ISA-L's folding implementation, ~10x zlib's on 1 GiB payloads.
uint32_t crc32_of(const uint8_t* p, size_t n) { return crc32_gzip_refl(0, p, n); }
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
void append64(std::vector<uint8_t>& out, uint64_t v) {
  uint8_t b[8];
  store_be64(b, v);
  out.insert(out.end(), b, b + 8);
}

}  // namespace

std::string checkpoint_file_name(uint64_t step) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "ckpt-%020" PRIu64 ".cbck", step);
  return buf;
}

namespace {

// Where an encoded checkpoint goes: appended bytes, and the header rewritten at the end.
struct CheckpointSink {
  virtual ~CheckpointSink() = default;
  virtual void write(std::span<const uint8_t> b) = 0;
  virtual void overwrite_header(std::span<const uint8_t> h) = 0;
};
struct VectorSink : CheckpointSink {
  std::vector<uint8_t>& out;
  explicit VectorSink(std::vector<uint8_t>& o) : out(o) {}
  void write(std::span<const uint8_t> b) override { out.insert(out.end(), b.begin(), b.end()); }
  void overwrite_header(std::span<const uint8_t> h) override { std::memcpy(out.data(), h.data(), h.size()); }
};
struct FileSink : CheckpointSink {
  AtomicFileWriter& w;
  explicit FileSink(AtomicFileWriter& f) : w(f) {}
  void write(std::span<const uint8_t> b) override { w.write(b); }
  void overwrite_header(std::span<const uint8_t> h) override { w.overwrite_at(0, h); }
};

struct ZstdCtx {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ~ZstdCtx() { ZSTD_freeCCtx(c); }
};

// Streams the payload through zstd into `sink` (no copy of the pages, no whole-payload
// buffer), then writes the header; returns it.
CheckpointHeader encode_checkpoint_to(const Checkpoint& c, const Checkpoint* base, int zstd_level,
                                      CheckpointSink& sink, uint64_t* page_count) {
  // Which pages: all, or those whose Page object is not the base's (copy-on-write gives a
  // written page a new object; an untouched one stays shared).
  std::vector<std::pair<uint64_t, const Page*>> pages;
  const auto& mine = c.memory().pages();
  pages.reserve(base ? 256 : mine.size());
  for (auto& kv : mine) {
    if (base) {
      auto it = base->memory().pages().find(kv.first);
      if (it != base->memory().pages().end() && it->second == kv.second) continue;
    }
    pages.emplace_back(kv.first, kv.second);
  }
  std::sort(pages.begin(), pages.end(), [](auto& a, auto& b) { return a.first < b.first; });
  if (page_count) *page_count = pages.size();

  std::vector<uint8_t> head;
  std::vector<uint8_t> meta = c.meta().serialize();  // memory is empty: page count 0
  append64(head, meta.size());
  head.insert(head.end(), meta.begin(), meta.end());
  bool has_proof2 =
      std::any_of(c.proof2().begin(), c.proof2().end(), [](uint8_t b) { return b != 0; });
  append64(head, has_proof2 ? kMemProofSize : 0);
  if (has_proof2) head.insert(head.end(), c.proof2().begin(), c.proof2().end());
  append64(head, pages.size());
  const uint64_t raw_size = head.size() + pages.size() * kCheckpointPageRecord;

  ZstdCtx z;
  ZSTD_CCtx_setParameter(z.c, ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setParameter(z.c, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setPledgedSrcSize(z.c, raw_size);
  std::vector<uint8_t> hdr(kCheckpointHeaderSize, 0);
  sink.write(hdr);  // placeholder; the real header is written once sizes and CRC are known
  std::vector<uint8_t> out(ZSTD_CStreamOutSize());
  uint64_t packed = 0;
  uint32_t crc = 0;
  auto feed = [&](const uint8_t* p, size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{p, n, 0};
    for (;;) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      size_t left = ZSTD_compressStream2(z.c, &ob, &in, mode);
      if (ZSTD_isError(left))
        throw CheckpointError(std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
      if (ob.pos) {
        crc = crc32_gzip_refl(crc, out.data(), ob.pos);
        packed += ob.pos;
        sink.write(std::span<const uint8_t>(out.data(), ob.pos));
      }
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
  };
  feed(head.data(), head.size(), ZSTD_e_continue);
  for (auto& [index, p] : pages) {
    uint8_t rec[40];
    store_be64(rec, index);
    // Checkpoints are clean (Memory::clean()): every page's root is current.
    std::memcpy(rec + 8, p->root_hash.data(), 32);
    feed(rec, sizeof rec, ZSTD_e_continue);
    feed(p->data, kPageSize, ZSTD_e_continue);
  }
  feed(nullptr, 0, ZSTD_e_end);

  uint8_t* h = hdr.data();
  std::memcpy(h, kMagic, 8);
  put32(h + 8, kCheckpointFormatVersion);
  put32(h + 12, base ? 1 : 0);
  store_be64(h + 16, c.step());
  store_be64(h + 24, base ? base->step() : c.step());
  std::memcpy(h + 32, c.hash().data(), 32);
  store_be64(h + 64, raw_size);
  store_be64(h + 72, packed);
  put32(h + 80, crc);
  put32(h + 84, crc32_of(h, 84));
  sink.overwrite_header(hdr);
  return decode_checkpoint_header(hdr, kCheckpointHeaderSize + packed, "(new)");
}

}  // namespace

std::vector<uint8_t> encode_checkpoint(const Checkpoint& c, const Checkpoint* base,
                                       int zstd_level) {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  encode_checkpoint_to(c, base, zstd_level, sink, nullptr);
  return out;
}

CheckpointHeader decode_checkpoint_header(std::span<const uint8_t> file, uint64_t file_size,
                                          const std::string& name) {
  auto fail = [&](const std::string& why) -> CheckpointError {
    return CheckpointError("checkpoint " + name + " is damaged: " + why);
  };
  if (file.size() < kCheckpointHeaderSize || file_size < kCheckpointHeaderSize)
    throw fail("shorter than its header");
  const uint8_t* h = file.data();
  if (std::memcmp(h, kMagic, 8) != 0) throw fail("not a cannonball checkpoint (bad magic)");
  if (get32(h + 84) != crc32_of(h, 84)) throw fail("header checksum mismatch");
  CheckpointHeader c;
  c.version = get32(h + 8);
  if (c.version != kCheckpointFormatVersion)
    throw CheckpointError("checkpoint " + name + " has format version " +
                          std::to_string(c.version) + "; this cannonball reads version " +
                          std::to_string(kCheckpointFormatVersion));
  c.kind = get32(h + 12);
  if (c.kind > 1) throw fail("unknown kind " + std::to_string(c.kind));
  c.step = load_be64(h + 16);
  c.base_step = load_be64(h + 24);
  std::memcpy(c.hash.data(), h + 32, 32);
  c.raw_size = load_be64(h + 64);
  c.packed_size = load_be64(h + 72);
  c.payload_crc = get32(h + 80);
  if (c.kind == 1 && c.base_step >= c.step) throw fail("delta base is not an earlier step");
  if (c.packed_size != file_size - kCheckpointHeaderSize)
    throw fail("truncated or padded: payload is " +
               std::to_string(file_size - kCheckpointHeaderSize) + " bytes, header says " +
               std::to_string(c.packed_size));
  return c;
}

CheckpointHeader read_checkpoint_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("cannot open checkpoint " + path);
  std::vector<uint8_t> h(kCheckpointHeaderSize);
  in.read(reinterpret_cast<char*>(h.data()), std::streamsize(h.size()));
  h.resize(size_t(in.gcount()));
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw CheckpointError("cannot read checkpoint " + path + ": " + ec.message());
  return decode_checkpoint_header(h, size, path);
}

// ---------------------------------------------------------------------------------------
// Writer

CheckpointWriter::CheckpointWriter(std::string dir, CheckpointWriterOptions options)
    : m_dir(std::move(dir)), m_options(options) {
  std::filesystem::create_directories(m_dir);
  m_thread = std::thread([this] { loop(); });
}

CheckpointWriter::~CheckpointWriter() {
  try {
    finish();
  } catch (...) {
  }
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void CheckpointWriter::submit(CheckpointPtr c) {
  std::unique_lock<std::mutex> lock(m_mu);
  m_cv.wait(lock,
            [&] { return m_error || m_queue.size() < std::max<size_t>(1, m_options.max_pending); });
  if (m_error) std::rethrow_exception(m_error);
  m_queue.push_back(std::move(c));
  m_cv.notify_all();
}

void CheckpointWriter::finish() {
  std::unique_lock<std::mutex> lock(m_mu);
  m_cv.wait(lock, [&] { return m_error || (m_queue.empty() && !m_busy); });
  if (m_error) std::rethrow_exception(m_error);
}

CheckpointWriterStats CheckpointWriter::stats() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_stats;
}

void CheckpointWriter::loop() {
  CheckpointPtr prev;
  uint64_t count = 0;
  uint64_t since_full = 0, chain_pages = 0;  // deltas since the last full one, and their pages
  for (;;) {
    CheckpointPtr c;
    {
      std::unique_lock<std::mutex> lock(m_mu);
      m_cv.wait(lock, [&] { return m_stop || !m_queue.empty(); });
      if (m_queue.empty()) return;  // stopping
      c = m_queue.front();
      m_busy = true;
    }
    auto t0 = std::chrono::steady_clock::now();
    try {
      bool full;
      if (!prev) {
        full = true;
      } else if (m_options.full_every == kFullEveryAuto) {
        full = since_full >= kAutoMaxChain || chain_pages >= c->memory().page_count();
      } else {
        full = m_options.full_every != 0 && count % m_options.full_every == 0;
      }
      WriteOptions wo;
      wo.sync = m_options.sync;
      wo.perm = 0644;
      wo.precompressed = true;
      AtomicFileWriter file(m_dir + "/" + checkpoint_file_name(c->step()), wo);
      FileSink sink(file);
      uint64_t pages = 0;
      CheckpointHeader h =
          encode_checkpoint_to(*c, full ? nullptr : prev.get(), m_options.zstd_level, sink, &pages);
      file.commit();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(m_mu);
      m_stats.files++;
      m_stats.full_files += full ? 1 : 0;
      m_stats.bytes += kCheckpointHeaderSize + h.packed_size;
      m_stats.raw_bytes += h.raw_size;
      m_stats.busy_seconds += secs;
      m_stats.pages += pages;
      since_full = full ? 0 : since_full + 1;
      chain_pages = full ? 0 : chain_pages + pages;
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_mu);
      if (!m_error) m_error = std::current_exception();
    }
    prev = c;
    ++count;
    {
      std::lock_guard<std::mutex> lock(m_mu);
      m_queue.pop_front();
      m_busy = false;
    }
    m_cv.notify_all();
  }
}

// ---------------------------------------------------------------------------------------
// Reader

CheckpointReader::CheckpointReader(std::string dir) : m_dir(std::move(dir)) {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(m_dir, ec)) {
    std::string n = e.path().filename().string();
    // Exactly "ckpt-" + 20 digits + ".cbck": temporary files of interrupted writes differ.
    if (n.size() != 5 + 20 + 5 || n.compare(0, 5, "ckpt-") != 0 || n.compare(25, 5, ".cbck") != 0)
      continue;
    if (!std::all_of(n.begin() + 5, n.begin() + 25, [](char ch) { return ch >= '0' && ch <= '9'; }))
      continue;
    m_steps.push_back(std::stoull(n.substr(5, 20)));
  }
  if (ec) throw CheckpointError("cannot read checkpoint directory " + m_dir + ": " + ec.message());
  std::sort(m_steps.begin(), m_steps.end());
}

std::string CheckpointReader::path(uint64_t step) const {
  return m_dir + "/" + checkpoint_file_name(step);
}

std::optional<uint64_t> CheckpointReader::at_or_before(uint64_t step) const {
  auto it = std::upper_bound(m_steps.begin(), m_steps.end(), step);
  if (it == m_steps.begin()) return std::nullopt;
  return *std::prev(it);
}

Hash32 CheckpointReader::recorded_hash(uint64_t step) const {
  return read_checkpoint_header(path(step)).hash;
}

namespace {

// Streams one checkpoint payload: reads the file in 1 MiB pieces, checks the CRC of the
// compressed bytes as they pass and inflates straight into the caller's buffers (pages).
class PayloadReader {
public:
  PayloadReader(const std::string& name, const CheckpointHeader& h) : m_name(name), m_h(h) {
    m_fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) throw CheckpointError("cannot read checkpoint " + name + ": " + std::strerror(errno));
    m_left = h.packed_size;
    m_off = kCheckpointHeaderSize;
    m_in.resize(size_t{1} << 20);
  }
  ~PayloadReader() {
    ZSTD_freeDCtx(m_d);
    if (m_fd >= 0) ::close(m_fd);
  }
  CheckpointError fail(const std::string& why) const {
    return CheckpointError("checkpoint " + m_name + " is damaged: " + why);
  }
  void read(uint8_t* dst, size_t n) {
    ZSTD_outBuffer ob{dst, n, 0};
    while (ob.pos < ob.size) {
      if (m_frame_done || (step(ob) == 0 && ob.pos < ob.size)) throw fail("payload truncated");
    }
    m_produced += n;
    if (m_produced > m_h.raw_size) throw fail("payload size mismatch");
  }
  // The frame must end here (zstd checks its content checksum there), with nothing after it.
  void finish() {
    uint8_t extra;
    while (!m_frame_done) {
      ZSTD_outBuffer ob{&extra, 1, 0};
      size_t r = step(ob);
      if (ob.pos) throw fail("trailing bytes in payload");
      if (r == 0) break;
    }
    if (m_ib.pos != m_ib.size || m_left != 0) throw fail("trailing bytes in payload");
    if (m_produced != m_h.raw_size) throw fail("payload size mismatch");
    if (m_crc != m_h.payload_crc) throw fail("payload checksum mismatch");
  }
  // After a decoding error: a damaged file is reported as such when its CRC says so.
  bool crc_ok_to_end() {
    m_ib.pos = m_ib.size;
    while (refill()) m_ib.pos = m_ib.size;
    return m_crc == m_h.payload_crc;
  }

private:
  // One zstd call; reads more of the file when zstd made no progress for want of input.
  size_t step(ZSTD_outBuffer& ob) {
    const size_t out0 = ob.pos, in0 = m_ib.pos;
    size_t r = ZSTD_decompressStream(m_d, &ob, &m_ib);
    if (ZSTD_isError(r)) throw fail(std::string("zstd: ") + ZSTD_getErrorName(r));
    if (r == 0) m_frame_done = true;
    if (r != 0 && ob.pos == out0 && m_ib.pos == in0 && m_ib.pos == m_ib.size && !refill())
      throw fail("payload truncated");
    return r;
  }
  bool refill() {
    if (m_left == 0) return false;
    size_t want = size_t(std::min<uint64_t>(m_left, m_in.size()));
    size_t got = 0;
    while (got < want) {
      ssize_t r = ::pread(m_fd, m_in.data() + got, want - got, off_t(m_off + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw CheckpointError("cannot read checkpoint " + m_name + ": " + std::strerror(errno));
      if (r == 0) throw fail("payload truncated");
      got += size_t(r);
    }
    m_crc = crc32_gzip_refl(m_crc, m_in.data(), got);
    m_off += got;
    m_left -= got;
    m_ib = ZSTD_inBuffer{m_in.data(), got, 0};
    return true;
  }

  std::string m_name;
  CheckpointHeader m_h;
  int m_fd = -1;
  uint64_t m_left = 0, m_off = 0, m_produced = 0;
  uint32_t m_crc = 0;
  bool m_frame_done = false;  // zstd reported the end of the frame
  std::vector<uint8_t> m_in;
  ZSTD_inBuffer m_ib{nullptr, 0, 0};
  ZSTD_DCtx* m_d = ZSTD_createDCtx();
};

}  // namespace

CheckpointPtr CheckpointReader::load(uint64_t step) {
  std::lock_guard<std::mutex> lock(m_mu);
  // Follow the base chain (headers only) down to a full checkpoint or a cached one, then
  // build upwards, streaming each payload into the memory.
  std::vector<CheckpointHeader> chain;
  CheckpointPtr base;
  for (uint64_t s = step;;) {
    if (auto it = m_cache.find(s); it != m_cache.end()) {
      base = it->second;
      break;
    }
    std::string name = path(s);
    if (!std::filesystem::exists(name)) {
      if (s == step) throw CheckpointError("checkpoint " + name + " does not exist");
      throw CheckpointError("checkpoint " + path(chain.back().step) + " is a delta on step " +
                            std::to_string(s) + ", whose checkpoint " + name + " is missing");
    }
    CheckpointHeader h = read_checkpoint_header(name);
    if (h.step != s)
      throw CheckpointError("checkpoint " + name + " is damaged: it holds step " +
                            std::to_string(h.step));
    chain.push_back(h);
    if (h.kind == 0) break;
    s = h.base_step;
  }
  if (chain.empty()) return base;  // cached
  // The chain is applied to one memory in place (a delta's pages overwrite its base's): no
  // copy of the page table per link; only the requested checkpoint is kept and cached, and
  // its state hash, recomputed from the page roots, is checked against its header's.
  std::unique_ptr<Memory> mem = base ? base->memory().share_clean() : nullptr;
  State s;
  MemProof proof2{};
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const CheckpointHeader& h = *it;
    std::string name = path(h.step);
    PayloadReader in(name, h);
    proof2 = MemProof{};
    try {
      uint8_t b8[8];
      in.read(b8, 8);
      uint64_t meta_len = load_be64(b8);
      if (meta_len > h.raw_size || meta_len > (uint64_t{1} << 30)) throw in.fail("payload truncated");
      std::vector<uint8_t> meta(meta_len);
      in.read(meta.data(), meta.size());
      try {
        s = State::deserialize(meta);
      } catch (const StateFormatError& e) {
        throw in.fail(std::string("thread state: ") + e.what());
      }
      if (s.memory->page_count() != 0) throw in.fail("thread state carries memory pages");
      if (s.step != h.step)
        throw in.fail("state step " + std::to_string(s.step) + " differs from the header's");
      if (h.kind == 0 || !mem) mem = std::move(s.memory);  // a full checkpoint starts afresh
      in.read(b8, 8);
      uint64_t k = load_be64(b8);
      if (k != 0 && k != kMemProofSize) throw in.fail("bad VM register block size " + std::to_string(k));
      if (k) in.read(proof2.data(), k);
      in.read(b8, 8);
      uint64_t n = load_be64(b8);
      if (n > h.raw_size / kCheckpointPageRecord) throw in.fail("payload truncated");
      if (!budget_allows(n))
        throw CheckpointError("checkpoint " + name + " needs " + human_bytes(n * kPageSize) +
                              " of pages, more than the memory budget (raise it with --max-memory)");
      for (uint64_t i = 0; i < n; ++i) {
        uint8_t rec[40];
        in.read(rec, sizeof rec);
        uint64_t index = load_be64(rec);
        if (index >= (uint64_t{1} << kPageKeySize)) throw in.fail("invalid page index");
        Page* p = mem->page_for_overwrite(index);
        in.read(p->data, kPageSize);
        // The recorded root stands for the page (the CRC and zstd's checksum guard the bytes);
        // the state hash check below covers every root.
        std::memcpy(p->root_hash.data(), rec + 8, 32);
        p->dirty_chunks = 0;
      }
      in.finish();
    } catch (const CheckpointError&) {
      if (!in.crc_ok_to_end()) throw in.fail("payload checksum mismatch");
      throw;
    }
  }
  const CheckpointHeader& h = chain.front();
  s.memory = std::move(mem);
  CheckpointPtr c = Checkpoint::adopt(std::move(s), proof2);
  if (c->hash() != h.hash)
    throw CheckpointError("checkpoint " + path(h.step) + " is damaged: its state hashes to " +
                          hex(c->hash()) + ", but " + hex(h.hash) +
                          " was recorded when it was taken");
  m_cache[h.step] = c;
  base = c;
  return base;
}

}  // namespace cb
