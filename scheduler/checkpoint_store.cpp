#include "scheduler/checkpoint_store.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "interp/file_io.h"

namespace cb {

namespace {

constexpr char kMagic[8] = {'C', 'B', 'C', 'K', 'P', 'T', '\r', '\n'};

uint32_t crc32_of(const uint8_t* p, size_t n) {
  return uint32_t(crc32_z(crc32_z(0, nullptr, 0), p, n));
}
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

std::vector<uint8_t> encode_checkpoint(const Checkpoint& c, const Checkpoint* base,
                                       int zstd_level) {
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

  std::vector<uint8_t> raw;
  std::vector<uint8_t> meta = c.meta().serialize();  // memory is empty: page count 0
  raw.reserve(16 + meta.size() + pages.size() * (8 + kPageSize));
  append64(raw, meta.size());
  raw.insert(raw.end(), meta.begin(), meta.end());
  bool has_proof2 =
      std::any_of(c.proof2().begin(), c.proof2().end(), [](uint8_t b) { return b != 0; });
  append64(raw, has_proof2 ? kMemProofSize : 0);
  if (has_proof2) raw.insert(raw.end(), c.proof2().begin(), c.proof2().end());
  append64(raw, pages.size());
  for (auto& [index, p] : pages) {
    append64(raw, index);
    raw.insert(raw.end(), p->data, p->data + kPageSize);
  }

  std::vector<uint8_t> out(kCheckpointHeaderSize + ZSTD_compressBound(raw.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstd_level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  size_t packed = ZSTD_compress2(cctx, out.data() + kCheckpointHeaderSize,
                                 out.size() - kCheckpointHeaderSize, raw.data(), raw.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(packed))
    throw CheckpointError(std::string("zstd compression failed: ") + ZSTD_getErrorName(packed));
  out.resize(kCheckpointHeaderSize + packed);

  uint8_t* h = out.data();
  std::memcpy(h, kMagic, 8);
  put32(h + 8, kCheckpointFormatVersion);
  put32(h + 12, base ? 1 : 0);
  store_be64(h + 16, c.step());
  store_be64(h + 24, base ? base->step() : c.step());
  std::memcpy(h + 32, c.hash().data(), 32);
  store_be64(h + 64, raw.size());
  store_be64(h + 72, packed);
  put32(h + 80, crc32_of(out.data() + kCheckpointHeaderSize, packed));
  put32(h + 84, crc32_of(h, 84));
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
      bool full = !prev || (m_options.full_every != 0 && count % m_options.full_every == 0);
      std::vector<uint8_t> bytes =
          encode_checkpoint(*c, full ? nullptr : prev.get(), m_options.zstd_level);
      WriteOptions wo;
      wo.sync = m_options.sync;
      wo.perm = 0644;
      write_file_atomic(m_dir + "/" + checkpoint_file_name(c->step()), bytes, wo);
      CheckpointHeader h =
          decode_checkpoint_header(bytes, bytes.size(), checkpoint_file_name(c->step()));
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(m_mu);
      m_stats.files++;
      m_stats.full_files += full ? 1 : 0;
      m_stats.bytes += bytes.size();
      m_stats.raw_bytes += h.raw_size;
      m_stats.busy_seconds += secs;
      // The page count is in the payload; derive it from the raw size and the meta length.
      m_stats.pages += (h.raw_size - 24 - c->meta().serialize().size()) / (8 + kPageSize);
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

CheckpointPtr CheckpointReader::load(uint64_t step) {
  std::lock_guard<std::mutex> lock(m_mu);
  // Follow the base chain down to a full checkpoint or a cached one, then build upwards.
  std::vector<std::pair<CheckpointHeader, std::vector<uint8_t>>> chain;
  CheckpointPtr base;
  for (uint64_t s = step;;) {
    if (auto it = m_cache.find(s); it != m_cache.end()) {
      base = it->second;
      break;
    }
    std::string name = path(s);
    if (!std::filesystem::exists(name)) {
      if (s == step) throw CheckpointError("checkpoint " + name + " does not exist");
      throw CheckpointError("checkpoint " + path(chain.back().first.step) + " is a delta on step " +
                            std::to_string(s) + ", whose checkpoint " + name + " is missing");
    }
    std::vector<uint8_t> file;
    try {
      file = read_file(name);
    } catch (const IoError& e) {
      throw CheckpointError(std::string("cannot read checkpoint: ") + e.what());
    }
    CheckpointHeader h = decode_checkpoint_header(file, file.size(), name);
    if (h.step != s)
      throw CheckpointError("checkpoint " + name + " is damaged: it holds step " +
                            std::to_string(h.step));
    uint64_t next = h.base_step;
    bool full = h.kind == 0;
    chain.emplace_back(h, std::move(file));
    if (full) break;
    s = next;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const CheckpointHeader& h = it->first;
    const std::vector<uint8_t>& file = it->second;
    std::string name = path(h.step);
    auto fail = [&](const std::string& why) {
      return CheckpointError("checkpoint " + name + " is damaged: " + why);
    };
    const uint8_t* packed = file.data() + kCheckpointHeaderSize;
    if (crc32_of(packed, h.packed_size) != h.payload_crc) throw fail("payload checksum mismatch");
    unsigned long long content = ZSTD_getFrameContentSize(packed, h.packed_size);
    if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
        content != h.raw_size)
      throw fail("payload size mismatch");
    std::vector<uint8_t> raw(h.raw_size);
    size_t got = ZSTD_decompress(raw.data(), raw.size(), packed, h.packed_size);
    if (ZSTD_isError(got)) throw fail(std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != raw.size()) throw fail("payload size mismatch");

    size_t pos = 0;
    auto take = [&](size_t n) -> const uint8_t* {
      if (raw.size() - pos < n) throw fail("payload truncated");
      const uint8_t* p = raw.data() + pos;
      pos += n;
      return p;
    };
    uint64_t meta_len = load_be64(take(8));
    if (meta_len > raw.size()) throw fail("payload truncated");
    State s;
    try {
      s = State::deserialize(std::span<const uint8_t>(take(meta_len), meta_len));
    } catch (const StateFormatError& e) {
      throw fail(std::string("thread state: ") + e.what());
    }
    if (s.memory->page_count() != 0) throw fail("thread state carries memory pages");
    if (s.step != h.step)
      throw fail("state step " + std::to_string(s.step) + " differs from the header's");
    if (h.kind == 1) s.memory = base->memory().share_clean();
    MemProof proof2{};
    uint64_t k = load_be64(take(8));
    if (k != 0 && k != kMemProofSize) throw fail("bad VM register block size " + std::to_string(k));
    if (k) std::memcpy(proof2.data(), take(k), k);
    uint64_t n = load_be64(take(8));
    if (n > (raw.size() - pos) / (8 + kPageSize)) throw fail("payload truncated");
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t index = load_be64(take(8));
      if (index >= (uint64_t{1} << kPageKeySize)) throw fail("invalid page index");
      s.memory->set_range(index << kPageAddrSize, take(kPageSize), kPageSize);
    }
    if (pos != raw.size()) throw fail("trailing bytes in payload");
    CheckpointPtr c = Checkpoint::adopt(std::move(s), proof2);
    if (c->hash() != h.hash)
      throw CheckpointError("checkpoint " + name + " is damaged: its state hashes to " +
                            hex(c->hash()) + ", but " + hex(h.hash) +
                            " was recorded when it was taken");
    m_cache[h.step] = c;
    base = c;
  }
  return base;
}

}  // namespace cb
