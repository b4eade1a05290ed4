// Streaming state files (interp/state_io.h) and the page pool's budget (memory/page_pool.h):
// the streaming reader decodes exactly what the whole-buffer decoder does, the parallel gzip
// writer's output is one gzip stream that an independent inflater (zlib, file_io's reader)
// reads back to the serialized bytes, and a budget that is too small is one clean error.
#include "interp/state_io.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "host/file_io.h"
#include "memory/page_pool.h"
#include "test_util.h"

namespace cb {
namespace {

std::vector<uint8_t> slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A state with pages of several kinds: random, zero, one word set, far apart.
State sample_state(uint64_t pages, uint32_t seed) {
  State s;
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t base = (i % 3 == 0 ? 0x10000000ull : 0x7fff0000000ull) + (i << 12);
    switch (i % 4) {
      case 0:
        for (uint64_t o = 0; o < kPageSize; o += 8) s.memory->set_word(base + o, rng());
        break;
      case 1:
        s.memory->set_word(base + 8 * (i % 512), rng());
        break;
      case 2:
        s.memory->set_range_zero(base, kPageSize);
        break;
      default:
        s.memory->set_word(base, 0x0102030405060708ull);
        break;
    }
  }
  s.step = 12345;
  s.heap = 0x123456789;
  s.last_hint = {1, 2, 3};
  s.left[0].regs[5] = 77;
  return s;
}

class StateIo : public ::testing::Test {
 protected:
  void SetUp() override { m_dir = test::temp_dir("state_io"); }
  std::string m_dir;
};

TEST_F(StateIo, StreamingReaderEqualsWholeBufferDecoderOnReferenceStates) {
  CB_REQUIRE_REFERENCE();
  for (const char* g : {"isa", "hello", "oracle", "threads", "compute"}) {
    std::string p = test::reference_dir() + "/vectors/" + g + "/initial.bin.gz";
    State a = State::deserialize(read_file(p));  // zlib inflate, whole-buffer decoder
    State b = cb::load_state_file(p);            // ISA-L inflate, streaming decoder
    EXPECT_EQ(a.serialize(), b.serialize()) << g;
    EXPECT_EQ(a.hash(), b.hash()) << g;
  }
  for (const char* g : {"isa", "hello", "oracle"}) {
    std::string p = test::reference_dir() + "/vectors/" + g + "/final.bin.gz";
    EXPECT_EQ(State::deserialize(read_file(p)).serialize(), cb::load_state_file(p).serialize())
        << g;
  }
}

TEST_F(StateIo, ParallelGzipIsOneStreamReadByZlib) {
  State s = sample_state(3000, 7);  // ~12 MiB: more than one 8 MiB member
  std::vector<uint8_t> raw = s.serialize();
  for (const char* name : {"/s.bin.gz", "/s.bin"}) {
    std::string p = m_dir + name;
    ASSERT_TRUE(save_state_file(p, s));
    std::vector<uint8_t> file = slurp(p);
    std::vector<uint8_t> back = is_gzip_path(p) ? gunzip_bytes(file, p) : file;
    EXPECT_EQ(back, raw) << name;
    EXPECT_EQ(cb::load_state_file(p).serialize(), raw) << name;
  }
  // Several members, each with the reference's header; deterministic bytes.
  std::vector<uint8_t> gz = slurp(m_dir + "/s.bin.gz");
  ASSERT_GE(gz.size(), 10u);
  const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  EXPECT_TRUE(std::equal(header, header + 10, gz.begin()));
  ASSERT_TRUE(save_state_file(m_dir + "/t.bin.gz", s));
  EXPECT_EQ(slurp(m_dir + "/t.bin.gz"), gz);
  // gzip_parallel at small segments: many members, still one stream.
  std::vector<uint8_t> small = gzip_parallel(raw, 64 * 1024);
  EXPECT_EQ(gunzip_bytes(small, "x"), raw);
  EXPECT_EQ(gunzip_bytes(gzip_parallel({}, 4096), "x"), std::vector<uint8_t>{});
  // Incompressible segments become stored blocks: zlib still reads them, at ~0 overhead.
  std::vector<uint8_t> rnd(3 << 20);
  std::mt19937_64 rng(1);
  for (auto& b : rnd) b = uint8_t(rng());
  std::vector<uint8_t> z = gzip_parallel(rnd, 1 << 20);
  EXPECT_EQ(gunzip_bytes(z, "rnd"), rnd);
  EXPECT_LT(z.size(), rnd.size() + rnd.size() / 256);
  std::vector<uint8_t> mixed = rnd;
  std::fill(mixed.begin() + (1 << 20), mixed.begin() + (2 << 20), 0);  // one member compresses
  z = gzip_parallel(mixed, 1 << 20);
  EXPECT_EQ(gunzip_bytes(z, "mixed"), mixed);
  EXPECT_LT(z.size(), mixed.size() * 3 / 4);
}

TEST_F(StateIo, BrokenGzipAndTruncatedStatesAreErrors) {
  State s = sample_state(40, 3);
  std::string p = m_dir + "/s.bin.gz";
  ASSERT_TRUE(save_state_file(p, s));
  std::vector<uint8_t> gz = slurp(p);
  auto error_of = [&](const std::vector<uint8_t>& bytes, const std::string& name) -> std::string {
    spit(m_dir + "/" + name, bytes);
    try {
      cb::load_state_file(m_dir + "/" + name);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "<loaded>";
  };
  std::vector<uint8_t> b = gz;
  b.resize(b.size() - 5);
  EXPECT_NE(error_of(b, "trunc.bin.gz").find("truncated"), std::string::npos);
  // Reading stops at the end of the member holding the state's last field: its CRC is
  // checked, junk after it is never read (as the reference's stream decoder).
  b = gz;
  b[b.size() - 6] ^= 1;  // CRC-32 in the trailer
  EXPECT_NE(error_of(b, "crc.bin.gz").find("corrupt gzip"), std::string::npos)
      << error_of(b, "crc.bin.gz");
  b = gz;
  b.insert(b.end(), {'j', 'u', 'n', 'k'});  // not another member
  EXPECT_EQ(error_of(b, "junk.bin.gz"), "<loaded>");
  // A flipped byte anywhere in the member: an error (inflater, decoder or CRC-32), or (a
  // back-reference whose new distance copies the same zeros) the very same state. Never a
  // different state.
  const std::vector<uint8_t> want = s.serialize();
  for (size_t pos = 10; pos + 8 < gz.size(); pos += 97) {
    b = gz;
    b[pos] ^= 0x55;
    spit(m_dir + "/flip.bin.gz", b);
    try {
      EXPECT_EQ(cb::load_state_file(m_dir + "/flip.bin.gz").serialize(), want) << pos;
    } catch (const std::exception&) {
    }
  }
  EXPECT_NE(error_of({}, "empty.bin.gz").find("truncated"), std::string::npos);
  std::vector<uint8_t> raw = s.serialize();
  raw.resize(raw.size() / 2);
  EXPECT_NE(error_of(raw, "half.bin").find("truncated"), std::string::npos);
  raw = s.serialize();
  raw[0] = 7;
  EXPECT_NE(error_of(raw, "v7.bin").find("version"), std::string::npos);
  // Concatenating two whole files is a valid multistream gzip (as Go reads it): the second
  // copy is ignored as trailing bytes after the state's last field.
  b = gz;
  b.insert(b.end(), gz.begin(), gz.end());
  EXPECT_EQ(error_of(b, "twice.bin.gz"), "<loaded>");
}

TEST_F(StateIo, PageCountBeyondTheBudgetIsRefusedBeforeReading) {
  State s = sample_state(300, 5);
  std::string p = m_dir + "/s.bin";
  ASSERT_TRUE(save_state_file(p, s));
  uint64_t old = memory_budget();
  set_memory_budget(pool_bytes_in_use() + 100 * sizeof(Page));
  std::string err;
  try {
    cb::load_state_file(p);
  } catch (const StateFormatError& e) {
    err = e.what();
  }
  set_memory_budget(old);
  EXPECT_NE(err.find("more than the memory budget"), std::string::npos) << err;
  EXPECT_NO_THROW(cb::load_state_file(p));
}

[[noreturn]] void throwing_handler(const std::string& m) { throw std::runtime_error(m); }

TEST_F(StateIo, WritingPastTheBudgetCallsTheHandler) {
  uint64_t old = memory_budget();
  auto prev = set_memory_exhausted_handler(throwing_handler);
  std::string err;
  {
    Memory m;
    set_memory_budget(pool_bytes_in_use() + 10 * sizeof(Page));
    try {
      for (uint64_t i = 0; i < 100; ++i) m.set_word(i << 12, 1);
    } catch (const std::runtime_error& e) {
      err = e.what();
    }
    set_memory_budget(old);
  }
  set_memory_exhausted_handler(prev);
  EXPECT_NE(err.find("out of memory"), std::string::npos) << err;
  EXPECT_NE(err.find("--max-memory"), std::string::npos) << err;
}

TEST_F(StateIo, CliMaxMemoryStopsWithOneErrorLine) {
  CB_REQUIRE_REFERENCE();
  std::string in = test::reference_dir() + "/vectors/hello/initial.bin.gz";
  // 1 MiB: the initial state's 366 pages do not fit (refused while loading); 1.6 MiB: they
  // do, the pages the guest writes later do not (interpreter and JIT).
  for (std::string flags :
       {"--max-memory 1MiB", "--max-memory=1.6MiB --jit=off", "-max-memory 1.6MiB --jit=on"}) {
    auto r = test::run_cmd(test::cannonball() + " run " + flags + " --input " + in + " --output " +
                           m_dir + "/out.bin.gz --meta ''");
    EXPECT_EQ(r.exit_code, 1) << flags << r.err;
    EXPECT_NE(r.err.find("error: "), std::string::npos) << flags << r.err;
    EXPECT_NE(r.err.find("memory budget"), std::string::npos) << flags << r.err;
    EXPECT_FALSE(std::filesystem::exists(m_dir + "/out.bin.gz"));
  }
  test::CmdResult r;
  r = test::run_cmd(test::cannonball() + " witness --max-memory lots --input " + in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--max-memory"), std::string::npos) << r.err;
  r = test::run_cmd(test::cannonball() + " witness --max-memory 64MiB --input " + in);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// page_tree against a direct level-by-level computation with keccak256_pair.
TEST(PageTree, EqualsNaiveTreeAndZeroHashes) {
  std::mt19937_64 rng(9);
  std::vector<uint8_t> data(kPageSize, 0);
  for (int round = 0; round < 6; ++round) {
    if (round == 1) data[100] = 1;
    if (round >= 2)
      for (int k = 0; k < 40 * round; ++k) data[rng() % kPageSize] = uint8_t(rng());
    Hash32 level[128];
    for (int i = 0; i < 128; ++i) std::memcpy(level[i].data(), data.data() + 32 * i, 32);
    int width = 128;
    while (width > 1) {
      for (int i = 0; i < width / 2; ++i) level[i] = keccak256_pair(level[2 * i], level[2 * i + 1]);
      width /= 2;
    }
    EXPECT_EQ(page_root(data.data()), level[0]) << round;
  }
  std::vector<uint8_t> zero(kPageSize, 0);
  EXPECT_EQ(page_root(zero.data()), zero_hash(7));
}

}  // namespace
}  // namespace cb
