#include "scheduler/checkpoint_store.h"

#include <fcntl.h>
#include <isa-l/crc.h>
#include <unistd.h>
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
  void overwrite_header(std::span<const uint8_t> h) override {
    std::memcpy(out.data(), h.data(), h.size());
  }
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

// Writes the blocks (each page streamed through zstd, one frame per block: no copy of the
// pages), then the index frame, then the header; returns it. *raw_bytes: uncompressed bytes.
CheckpointHeader encode_checkpoint_to(const Checkpoint& c, const Checkpoint* base, int zstd_level,
                                      CheckpointSink& sink, uint64_t* page_count,
                                      uint64_t* raw_bytes) {
  // Which pages: all, or those whose Page object is not the base's (copy-on-write gives a
  // written page a new object; an untouched one stays shared, and so does its group).
  std::vector<std::pair<uint64_t, const Page*>> pages;
  if (base) {
    pages = c.memory().changed_pages(base->memory());
  } else {
    pages.reserve(c.memory().page_count());
    c.memory().for_each_page([&](uint64_t index, const Page& p) { pages.emplace_back(index, &p); });
  }
  std::sort(pages.begin(), pages.end(), [](auto& a, auto& b) { return a.first < b.first; });
  if (page_count) *page_count = pages.size();

  ZstdCtx z;
  std::vector<uint8_t> hdr(kCheckpointHeaderSize, 0);
  sink.write(hdr);  // placeholder; the real header is written once sizes and CRC are known
  std::vector<uint8_t> out(ZSTD_CStreamOutSize());
  uint64_t payload = 0;
  // One zstd frame of `raw` bytes fed by the caller; returns its size and CRC.
  uint64_t frame_size = 0;
  uint32_t frame_crc = 0;
  auto begin_frame = [&](uint64_t raw) {
    ZSTD_CCtx_reset(z.c, ZSTD_reset_session_only);
    ZSTD_CCtx_setParameter(z.c, ZSTD_c_compressionLevel, zstd_level);
    ZSTD_CCtx_setParameter(z.c, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setPledgedSrcSize(z.c, raw);
    frame_size = 0;
    frame_crc = 0;
  };
  auto feed = [&](const uint8_t* p, size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{p, n, 0};
    for (;;) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      size_t left = ZSTD_compressStream2(z.c, &ob, &in, mode);
      if (ZSTD_isError(left))
        throw CheckpointError(std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
      if (ob.pos) {
        frame_crc = crc32_gzip_refl(frame_crc, out.data(), ob.pos);
        frame_size += ob.pos;
        sink.write(std::span<const uint8_t>(out.data(), ob.pos));
      }
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
  };
  std::vector<uint8_t> blocks;  // the index's block table
  for (size_t first = 0; first < pages.size(); first += kCheckpointPagesPerBlock) {
    size_t n = std::min<size_t>(kCheckpointPagesPerBlock, pages.size() - first);
    begin_frame(n * kPageSize);
    for (size_t i = 0; i < n; ++i) feed(pages[first + i].second->data, kPageSize, ZSTD_e_continue);
    feed(nullptr, 0, ZSTD_e_end);
    append64(blocks, frame_size);
    uint8_t b4[4];
    put32(b4, frame_crc);
    blocks.insert(blocks.end(), b4, b4 + 4);
    payload += frame_size;
  }

  std::vector<uint8_t> head;
  std::vector<uint8_t> meta = c.meta().serialize();  // memory is empty: page count 0
  append64(head, meta.size());
  head.insert(head.end(), meta.begin(), meta.end());
  bool has_proof2 =
      std::any_of(c.proof2().begin(), c.proof2().end(), [](uint8_t b) { return b != 0; });
  append64(head, has_proof2 ? kMemProofSize : 0);
  if (has_proof2) head.insert(head.end(), c.proof2().begin(), c.proof2().end());
  append64(head, pages.size());
  for (auto& [index, p] : pages) {
    append64(head, index);
    // Checkpoints are clean (Memory::clean()): every page's root is current.
    head.insert(head.end(), p->root_hash.begin(), p->root_hash.end());
  }
  append64(head, kCheckpointPagesPerBlock);
  append64(head, blocks.size() / kCheckpointBlockRecord);
  head.insert(head.end(), blocks.begin(), blocks.end());
  begin_frame(head.size());
  feed(head.data(), head.size(), ZSTD_e_end);
  payload += frame_size;
  if (raw_bytes) *raw_bytes = head.size() + pages.size() * kPageSize;

  uint8_t* h = hdr.data();
  std::memcpy(h, kMagic, 8);
  put32(h + 8, kCheckpointFormatVersion);
  put32(h + 12, base ? 1 : 0);
  store_be64(h + 16, c.step());
  store_be64(h + 24, base ? base->step() : c.step());
  std::memcpy(h + 32, c.hash().data(), 32);
  store_be64(h + 64, frame_size);
  store_be64(h + 72, payload);
  put32(h + 80, frame_crc);
  put32(h + 84, crc32_of(h, 84));
  sink.overwrite_header(hdr);
  return decode_checkpoint_header(hdr, kCheckpointHeaderSize + payload, "(new)");
}

}  // namespace

std::vector<uint8_t> encode_checkpoint(const Checkpoint& c, const Checkpoint* base,
                                       int zstd_level) {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  encode_checkpoint_to(c, base, zstd_level, sink, nullptr, nullptr);
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
  c.index_size = load_be64(h + 64);
  c.payload_size = load_be64(h + 72);
  c.index_crc = get32(h + 80);
  if (c.kind == 1 && c.base_step >= c.step) throw fail("delta base is not an earlier step");
  if (c.payload_size != file_size - kCheckpointHeaderSize)
    throw fail("truncated or padded: payload is " +
               std::to_string(file_size - kCheckpointHeaderSize) + " bytes, header says " +
               std::to_string(c.payload_size));
  if (c.index_size == 0 || c.index_size > c.payload_size) throw fail("bad index size");
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
  // Deltas since the last full checkpoint, their pages, and the full one's pages.
  uint64_t since_full = 0, chain_pages = 0, base_pages = 0;
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
        full = auto_full_checkpoint(since_full, base_pages, chain_pages, c->memory().page_count());
      } else {
        full = m_options.full_every != 0 && count % m_options.full_every == 0;
      }
      WriteOptions wo;
      wo.sync = m_options.sync;
      wo.perm = 0644;
      wo.precompressed = true;
      AtomicFileWriter file(m_dir + "/" + checkpoint_file_name(c->step()), wo);
      FileSink sink(file);
      uint64_t pages = 0, raw = 0;
      CheckpointHeader h = encode_checkpoint_to(*c, full ? nullptr : prev.get(),
                                                m_options.zstd_level, sink, &pages, &raw);
      file.commit();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(m_mu);
      m_stats.files++;
      m_stats.full_files += full ? 1 : 0;
      m_stats.bytes += kCheckpointHeaderSize + h.payload_size;
      m_stats.raw_bytes += raw;
      m_stats.busy_seconds += secs;
      m_stats.pages += pages;
      since_full = full ? 0 : since_full + 1;
      chain_pages = full ? 0 : chain_pages + pages;
      if (full) base_pages = pages;
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

// Reads n bytes at `off`; false at a premature end of file. Throws on a read error.
bool pread_all(int fd, uint8_t* dst, size_t n, uint64_t off, const std::string& name) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, dst + got, n - got, off_t(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      throw CheckpointError("cannot read checkpoint " + name + ": " + std::strerror(errno));
    if (r == 0) return false;
    got += size_t(r);
  }
  return true;
}

struct Fd {
  int fd;
  explicit Fd(const std::string& name) : fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Where one checkpoint file keeps its page blocks (from its index).
struct BlockFile {
  std::string path;
  std::vector<uint64_t> offset, size;  // file offset and compressed size of each block
  std::vector<uint32_t> crc, pages;    // CRC-32 and page count of each block
};

// A page's location: file (of the source's list) << 44 | block << 12 | slot in the block.
constexpr unsigned kLocBlockShift = 12, kLocFileShift = 44;
constexpr uint64_t kMaxChainFiles = uint64_t{1} << (64 - kLocFileShift);

// The lazy pages of a loaded checkpoint chain read their bytes from here: a block is read,
// checked (CRC, then zstd's own checksum and sizes) and inflated when one of its pages is
// first needed; the last few inflated blocks are kept, as replays touch pages in runs.
class CheckpointPageSource final : public PageSource {
 public:
  explicit CheckpointPageSource(std::vector<std::shared_ptr<const BlockFile>> files)
      : m_files(std::move(files)) {}
  const std::vector<std::shared_ptr<const BlockFile>>& files() const { return m_files; }

  void read_page(uint64_t loc, uint8_t* out) const override {
    const uint64_t file = loc >> kLocFileShift;
    const uint64_t block =
        (loc >> kLocBlockShift) & ((uint64_t{1} << (kLocFileShift - kLocBlockShift)) - 1);
    const uint64_t slot = loc & ((uint64_t{1} << kLocBlockShift) - 1);
    std::shared_ptr<const std::vector<uint8_t>> data;
    {
      std::lock_guard<std::mutex> lock(m_mu);
      for (const Cached& c : m_cache)
        if (c.data && c.file == file && c.block == block) data = c.data;
    }
    if (!data) {
      data = inflate(file, block);  // outside the lock: other threads' pages go on meanwhile
      std::lock_guard<std::mutex> lock(m_mu);
      m_cache[m_next++ % m_cache.size()] = Cached{file, block, data};
    }
    if ((slot + 1) * kPageSize > data->size())
      memory_fault("checkpoint page location out of range");
    std::memcpy(out, data->data() + slot * kPageSize, kPageSize);
  }

 private:
  std::shared_ptr<const std::vector<uint8_t>> inflate(uint64_t file, uint64_t block) const {
    if (file >= m_files.size() || block >= m_files[file]->size.size())
      memory_fault("checkpoint page location out of range");
    const BlockFile& f = *m_files[file];
    auto damaged = [&](const std::string& why) {
      memory_fault("checkpoint " + f.path + " is damaged: block " + std::to_string(block) + " " +
                   why);
    };
    std::vector<uint8_t> packed(f.size[block]);
    {
      Fd fd(f.path);
      if (fd.fd < 0) memory_fault("cannot read checkpoint " + f.path + ": " + std::strerror(errno));
      bool whole;
      try {
        whole = pread_all(fd.fd, packed.data(), packed.size(), f.offset[block], f.path);
      } catch (const CheckpointError& e) {
        memory_fault(e.what());
      }
      if (!whole) damaged("truncated");
    }
    if (crc32_of(packed.data(), packed.size()) != f.crc[block]) damaged("checksum mismatch");
    const uint64_t raw = uint64_t(f.pages[block]) * kPageSize;
    if (ZSTD_findFrameCompressedSize(packed.data(), packed.size()) != packed.size() ||
        ZSTD_getFrameContentSize(packed.data(), packed.size()) != raw)
      damaged("is not one frame of its pages");
    auto out = std::make_shared<std::vector<uint8_t>>(raw);
    ZSTD_DCtx* d = ZSTD_createDCtx();
    size_t r = ZSTD_decompressDCtx(d, out->data(), out->size(), packed.data(), packed.size());
    ZSTD_freeDCtx(d);
    if (ZSTD_isError(r)) damaged(std::string("zstd: ") + ZSTD_getErrorName(r));
    if (r != raw) damaged("size mismatch");
    return out;
  }

  struct Cached {
    uint64_t file = 0, block = 0;
    std::shared_ptr<const std::vector<uint8_t>> data;
  };
  std::vector<std::shared_ptr<const BlockFile>> m_files;
  mutable std::mutex m_mu;
  mutable std::array<Cached, 8> m_cache{};
  mutable size_t m_next = 0;
};

// Reads the fields of an inflated index, each read checked against its end.
class IndexCursor {
 public:
  IndexCursor(const std::vector<uint8_t>& b,
              std::function<CheckpointError(const std::string&)> fail)
      : m_b(b), m_fail(std::move(fail)) {}
  const uint8_t* take(uint64_t n) {
    if (n > m_b.size() - m_pos) throw m_fail("index truncated");
    const uint8_t* p = m_b.data() + m_pos;
    m_pos += n;
    return p;
  }
  uint64_t u64() { return load_be64(take(8)); }
  uint32_t u32() { return get32(take(4)); }
  uint64_t left() const { return m_b.size() - m_pos; }

 private:
  const std::vector<uint8_t>& m_b;
  size_t m_pos = 0;
  std::function<CheckpointError(const std::string&)> m_fail;
};

}  // namespace

CheckpointPtr CheckpointReader::load(uint64_t step) {
  std::lock_guard<std::mutex> lock(m_mu);
  // Follow the base chain (headers only) down to a full checkpoint or a cached one, then
  // build upwards from the indices: the pages stay in their blocks (lazy).
  std::vector<CheckpointHeader> chain;
  const Loaded* base = nullptr;
  for (uint64_t s = step;;) {
    if (auto it = m_cache.find(s); it != m_cache.end()) {
      base = &it->second;
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
  if (chain.empty()) return base->checkpoint;  // cached
  if (chain.size() +
          (base ? std::static_pointer_cast<const CheckpointPageSource>(base->pages->source)
                      ->files()
                      .size()
                : 0) >=
      kMaxChainFiles)
    throw CheckpointError("checkpoint " + path(step) + " has too long a delta chain");

  auto lazy = std::make_shared<LazyPages>();
  std::vector<std::shared_ptr<const BlockFile>> files;
  if (base) {
    lazy->pages = base->pages->pages;
    files = std::static_pointer_cast<const CheckpointPageSource>(base->pages->source)->files();
  }
  std::vector<uint64_t> changed;
  State s;
  MemProof proof2{};
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const CheckpointHeader& h = *it;
    const std::string name = path(h.step);
    auto fail = [&](const std::string& why) {
      return CheckpointError("checkpoint " + name + " is damaged: " + why);
    };
    // The index frame: the last index_size bytes.
    std::vector<uint8_t> packed(h.index_size);
    {
      Fd fd(name);
      if (fd.fd < 0)
        throw CheckpointError("cannot read checkpoint " + name + ": " + std::strerror(errno));
      if (!pread_all(fd.fd, packed.data(), packed.size(),
                     kCheckpointHeaderSize + h.payload_size - h.index_size, name))
        throw fail("truncated");
    }
    if (crc32_of(packed.data(), packed.size()) != h.index_crc)
      throw fail("index checksum mismatch");
    // Bounded by what the budget could hold: 52 index bytes per page, and the thread state.
    const uint64_t limit =
        (uint64_t{2} << 30) +
        memory_budget() / kPageSize * (kCheckpointIndexRecord + kCheckpointBlockRecord);
    unsigned long long raw = ZSTD_getFrameContentSize(packed.data(), packed.size());
    if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > limit ||
        ZSTD_findFrameCompressedSize(packed.data(), packed.size()) != packed.size())
      throw fail("the index is not one zstd frame of a sensible size");
    std::vector<uint8_t> index(raw);
    {
      ZSTD_DCtx* d = ZSTD_createDCtx();
      size_t r = ZSTD_decompressDCtx(d, index.data(), index.size(), packed.data(), packed.size());
      ZSTD_freeDCtx(d);
      if (ZSTD_isError(r)) throw fail(std::string("zstd: ") + ZSTD_getErrorName(r));
      if (r != raw) throw fail("index size mismatch");
    }
    IndexCursor in(index, fail);
    uint64_t meta_len = in.u64();
    if (meta_len > (uint64_t{1} << 30)) throw fail("index truncated");
    const uint8_t* meta = in.take(meta_len);
    try {
      s = State::deserialize(std::span<const uint8_t>(meta, meta_len));
    } catch (const StateFormatError& e) {
      throw fail(std::string("thread state: ") + e.what());
    }
    if (s.memory->page_count() != 0) throw fail("thread state carries memory pages");
    if (s.step != h.step)
      throw fail("state step " + std::to_string(s.step) + " differs from the header's");
    uint64_t k = in.u64();
    if (k != 0 && k != kMemProofSize) throw fail("bad VM register block size " + std::to_string(k));
    proof2 = MemProof{};
    if (k) std::memcpy(proof2.data(), in.take(k), k);
    uint64_t n = in.u64();
    if (n > in.left() / kCheckpointIndexRecord) throw fail("index truncated");
    if (!budget_allows(n))
      throw CheckpointError("checkpoint " + name + " needs " + human_bytes(n * kPageSize) +
                            " of pages, more than the memory budget (raise it with --max-memory)");
    const uint8_t* recs = in.take(n * kCheckpointIndexRecord);
    uint64_t per_block = in.u64();
    if (per_block == 0 || per_block > (uint64_t{1} << kLocBlockShift)) throw fail("bad block size");
    uint64_t blocks = in.u64();
    if (blocks != (n + per_block - 1) / per_block) throw fail("block count mismatch");
    if (blocks > in.left() / kCheckpointBlockRecord) throw fail("index truncated");
    auto bf = std::make_shared<BlockFile>();
    bf->path = name;
    uint64_t off = kCheckpointHeaderSize;
    for (uint64_t b = 0; b < blocks; ++b) {
      uint64_t size = in.u64();
      uint32_t crc = in.u32();
      if (size > h.payload_size) throw fail("block sizes do not add up to the payload");
      bf->offset.push_back(off);
      bf->size.push_back(size);
      bf->crc.push_back(crc);
      bf->pages.push_back(uint32_t(std::min(per_block, n - b * per_block)));
      off += size;
    }
    if (in.left() != 0) throw fail("trailing bytes in the index");
    if (off != kCheckpointHeaderSize + h.payload_size - h.index_size)
      throw fail("block sizes do not add up to the payload");
    const uint64_t file_id = files.size();
    files.push_back(std::move(bf));
    if (h.kind == 0) lazy->pages.clear();  // a full checkpoint starts afresh
    // A small delta grows the table in place; reserving would rehash it for nothing.
    if (n > lazy->pages.size() / 4) lazy->pages.reserve(lazy->pages.size() + n);
    uint64_t prev_index = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* r = recs + i * kCheckpointIndexRecord;
      uint64_t index = load_be64(r);
      if (index >= (uint64_t{1} << kPageKeySize)) throw fail("invalid page index");
      if (i && index <= prev_index) throw fail("page indices not ascending");
      prev_index = index;
      LazyPage lp;
      std::memcpy(lp.root.data(), r + 8, 32);
      lp.location = file_id << kLocFileShift | (i / per_block) << kLocBlockShift | (i % per_block);
      lazy->pages[index] = lp;
      changed.push_back(index);
    }
  }
  if (!budget_allows(lazy->pages.size()))
    throw CheckpointError("checkpoint " + path(step) + " needs " +
                          human_bytes(lazy->pages.size() * kPageSize) +
                          " of pages, more than the memory budget (raise it with --max-memory)");
  lazy->source = std::make_shared<CheckpointPageSource>(std::move(files));
  // The recorded roots stand for the pages (the block CRCs and zstd's checksums guard the
  // bytes when they are read); the state hash check below covers every root.
  std::unique_ptr<Memory> mem =
      base ? base->checkpoint->memory().share_clean() : std::make_unique<Memory>();
  mem->attach_lazy(lazy, changed);
  const CheckpointHeader& h = chain.front();
  s.memory = std::move(mem);
  CheckpointPtr c = Checkpoint::adopt(std::move(s), proof2);
  if (c->hash() != h.hash)
    throw CheckpointError("checkpoint " + path(h.step) + " is damaged: its state hashes to " +
                          hex(c->hash()) + ", but " + hex(h.hash) +
                          " was recorded when it was taken");
  m_cache[h.step] = Loaded{c, lazy};
  return c;
}

}  // namespace cb
