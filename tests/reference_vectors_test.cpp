// Golden vectors from the reference implementation (../shared/reference): load-elf output,
// state-file round trips, and the state hash at every listed step of each short guest.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <tuple>

#include "cli/preimage_host.h"
#include "interp/elf_loader.h"
#include "interp/vm.h"
#include "scheduler/executor.h"
#include "test_util.h"

namespace cb {
namespace {

using test::reference_dir;

const char* const kGuests[] = {"isa", "hello", "oracle", "threads", "compute"};

class PerGuest : public ::testing::TestWithParam<const char*> {};

TEST_P(PerGuest, LoadElfWritesTheReferenceInitialState) {
  CB_REQUIRE_REFERENCE();
  std::string g = GetParam(), r = reference_dir();
  auto elf = test::read_bytes(r + "/elf/" + g + ".elf");
  State s = load_elf(elf);
  auto expected = test::read_bytes(r + "/vectors/" + g + "/initial.bin.gz");
  auto got = s.serialize();
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "state bytes differ";

  // Same symbols (the reference orders symbols sharing an address with an unstable sort).
  Metadata m = elf_metadata(elf);
  Metadata ref = Metadata::from_json(test::read_text(r + "/vectors/" + g + "/meta.json"));
  auto key = [](const Symbol& s) { return std::make_tuple(s.start, s.name, s.size); };
  auto sorted = [&](std::vector<Symbol> v) {
    std::sort(v.begin(), v.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    return v;
  };
  auto a = sorted(m.symbols), b = sorted(ref.symbols);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(key(a[i]), key(b[i])) << "symbol " << i;
  // Addresses are in the same order as the reference file's.
  for (size_t i = 0; i < m.symbols.size(); ++i) ASSERT_EQ(m.symbols[i].start, ref.symbols[i].start);
}

TEST_P(PerGuest, StateFilesRoundTripAndHashLikeTheReference) {
  CB_REQUIRE_REFERENCE();
  std::string g = GetParam(), dir = reference_dir() + "/vectors/" + g;
  auto expected = nlohmann::json::parse(test::read_text(dir + "/expected.json"));
  for (std::string f : {"initial.bin.gz", "final.bin.gz"}) {
    if (!std::filesystem::exists(dir + "/" + f)) continue;
    auto bytes = test::read_bytes(dir + "/" + f);
    State s = State::deserialize(bytes);
    EXPECT_TRUE(s.serialize() == bytes) << f << " does not round-trip";
    std::string want = expected[f == "initial.bin.gz" ? "initial_hash" : "final_hash"];
    EXPECT_EQ(hex(s.hash()), want) << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, PerGuest, ::testing::ValuesIn(kGuests),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace cb
