// `cannonball profile` over all of `compute` (3.45 G steps): every step attributed (the sum is
// expected.json's step count), and the whole profile (functions, threads, folded stacks)
// identical with the JIT and with the interpreter.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "interp/elf_loader.h"
#include "test_util.h"
#include "tools/profile.h"

namespace cb {
namespace {

TEST(LongProfileCompute, JitAndInterpreterGiveTheSameExactProfile) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = test::reference_dir() + "/vectors/compute";
  const Metadata meta = Metadata::from_json(test::read_text(dir + "/meta.json"));
  const uint64_t want_steps = nlohmann::json::parse(test::read_text(dir + "/expected.json")).at("final_step").get<uint64_t>();
  ProfileResult r[2];
  for (int jit = 0; jit < 2; ++jit) {
    State s = test::load_state_file(dir + "/initial.bin.gz");
    Vm vm(s, nullptr, nullptr);
    ProfileOptions o;
    o.jit = jit == 1;
    r[jit] = profile_run(vm, meta, o);
    EXPECT_TRUE(s.exited);
    EXPECT_EQ(r[jit].end_step, want_steps);
    EXPECT_EQ(r[jit].attributed, want_steps);
  }
  ASSERT_EQ(r[0].functions.size(), r[1].functions.size());
  for (size_t i = 0; i < r[0].functions.size(); ++i) {
    EXPECT_EQ(r[0].functions[i].name, r[1].functions[i].name);
    EXPECT_EQ(r[0].functions[i].self, r[1].functions[i].self) << r[0].functions[i].name;
    EXPECT_EQ(r[0].functions[i].inclusive, r[1].functions[i].inclusive) << r[0].functions[i].name;
  }
  ASSERT_EQ(r[0].threads.size(), r[1].threads.size());
  for (size_t i = 0; i < r[0].threads.size(); ++i) EXPECT_EQ(r[0].threads[i].steps, r[1].threads[i].steps);
  EXPECT_EQ(r[0].folded, r[1].folded);
  EXPECT_EQ(r[1].functions[0].name, "crypto/sha256.blockGeneric");
}

}  // namespace
}  // namespace cb
