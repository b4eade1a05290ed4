// `cannonball profile` over all of `compute` (3.45 G steps): every step attributed (the sum is
// expected.json's step count), and the whole profile (functions, threads, folded stacks)
// identical with the JIT and with the interpreter.
//
// The interpreter's profile is the slow part (~25 M steps/s), so the run is cut into
// kSegments consecutive segments that run in parallel threads: each starts from the state at
// its first step (reached by a plain JIT run) and is profiled by the JIT and by the
// interpreter, and the two profiles must be identical (both start with empty shadow stacks
// there). Every step of the run is thus compared. A whole-run JIT profile (stacks followed
// from step 0) runs alongside: it sums to expected.json's step count, and its self and
// per-thread counts, which never depend on stacks, equal the sums of the segments'
// interpreter counts.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "interp/elf_loader.h"
#ifdef CB_HAVE_JIT
#include "jit/engine.h"
#endif
#include "test_util.h"
#include "tools/profile.h"

namespace cb {
namespace {

constexpr int kSegments = 4;

// Runs `s` to step `to` without profiling.
void advance(State& s, uint64_t to) {
  Vm vm(s, nullptr, nullptr);
  StepStatus st = StepStatus::kOk;
#ifdef CB_HAVE_JIT
  JitEngine jit(vm);
  while (!s.exited && s.step < to && st == StepStatus::kOk) st = jit.run(to);
#else
  while (!s.exited && s.step < to && st == StepStatus::kOk) vm.run(to - s.step, st);
#endif
}

void expect_same_profile(const ProfileResult& a, const ProfileResult& b, const std::string& what) {
  EXPECT_EQ(a.start_step, b.start_step) << what;
  EXPECT_EQ(a.end_step, b.end_step) << what;
  EXPECT_EQ(a.attributed, b.attributed) << what;
  ASSERT_EQ(a.functions.size(), b.functions.size()) << what;
  for (size_t i = 0; i < a.functions.size(); ++i) {
    EXPECT_EQ(a.functions[i].name, b.functions[i].name) << what;
    EXPECT_EQ(a.functions[i].self, b.functions[i].self) << what << ": " << a.functions[i].name;
    EXPECT_EQ(a.functions[i].inclusive, b.functions[i].inclusive)
        << what << ": " << a.functions[i].name;
  }
  ASSERT_EQ(a.threads.size(), b.threads.size()) << what;
  for (size_t i = 0; i < a.threads.size(); ++i) {
    EXPECT_EQ(a.threads[i].id, b.threads[i].id) << what;
    EXPECT_EQ(a.threads[i].steps, b.threads[i].steps) << what;
  }
  EXPECT_EQ(a.folded, b.folded) << what;
}

TEST(LongProfileCompute, JitAndInterpreterGiveTheSameExactProfile) {
  CB_REQUIRE_REFERENCE();
  const std::string dir = test::reference_dir() + "/vectors/compute";
  const Metadata meta = Metadata::from_json(test::read_text(dir + "/meta.json"));
  const uint64_t want_steps = nlohmann::json::parse(test::read_text(dir + "/expected.json"))
                                  .at("final_step")
                                  .get<uint64_t>();
  const State initial = test::load_state_file(dir + "/initial.bin.gz");

  struct Segment {
    uint64_t from = 0, to = 0;  // steps [from, to); the last one runs to the end
    ProfileResult jit, interp;
    bool exited = false;
  };
  Segment seg[kSegments];
  for (int k = 0; k < kSegments; ++k) {
    seg[k].from = initial.step + want_steps / kSegments * uint64_t(k);
    seg[k].to =
        k + 1 < kSegments ? initial.step + want_steps / kSegments * uint64_t(k + 1) : ~uint64_t{0};
  }
  ProfileResult whole;
  bool whole_exited = false;

  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    State s = initial.clone();
    Vm vm(s, nullptr, nullptr);
    ProfileOptions o;
    o.jit = true;
    whole = profile_run(vm, meta, o);
    whole_exited = s.exited;
  });
  for (int k = 0; k < kSegments; ++k) {
    threads.emplace_back([&, k] {
      Segment& g = seg[k];
      State a = initial.clone();
      advance(a, g.from);
      if (a.step != g.from) return;  // reported below (the results stay empty)
      State b = a.clone();
      ProfileOptions o;
      o.stop_at = g.to;
      o.jit = true;
      Vm vm_a(a, nullptr, nullptr);
      g.jit = profile_run(vm_a, meta, o);
      o.jit = false;
      Vm vm_b(b, nullptr, nullptr);
      g.interp = profile_run(vm_b, meta, o);
      g.exited = a.exited && b.exited;
    });
  }
  for (auto& t : threads) t.join();

  // The whole run, from step 0.
  EXPECT_TRUE(whole_exited);
  EXPECT_EQ(whole.end_step, initial.step + want_steps);
  EXPECT_EQ(whole.attributed, want_steps);
  ASSERT_FALSE(whole.functions.empty());
  EXPECT_EQ(whole.functions[0].name, "crypto/sha256.blockGeneric");

  // Each segment: JIT and interpreter identical; together they cover the run.
  std::map<std::string, uint64_t> self;
  std::map<uint64_t, uint64_t> per_thread;
  uint64_t attributed = 0;
  for (int k = 0; k < kSegments; ++k) {
    const Segment& g = seg[k];
    const std::string what =
        "segment " + std::to_string(k) + " from step " + std::to_string(g.from);
    EXPECT_EQ(g.interp.start_step, g.from) << what;
    EXPECT_EQ(g.interp.end_step, k + 1 < kSegments ? g.to : initial.step + want_steps) << what;
    EXPECT_EQ(g.interp.attributed, g.interp.end_step - g.interp.start_step) << what;
    EXPECT_EQ(g.exited, k + 1 == kSegments) << what;
    expect_same_profile(g.jit, g.interp, what);
    for (const FunctionProfile& f : g.interp.functions) self[f.name] += f.self;
    for (const ThreadProfile& t : g.interp.threads) per_thread[t.id] += t.steps;
    attributed += g.interp.attributed;
  }
  EXPECT_EQ(attributed, want_steps);

  // The whole-run JIT profile's stack-independent counts equal the segments' interpreter ones.
  std::map<std::string, uint64_t> whole_self;
  for (const FunctionProfile& f : whole.functions)
    if (f.self) whole_self[f.name] = f.self;
  for (auto it = self.begin(); it != self.end();) it = it->second ? std::next(it) : self.erase(it);
  EXPECT_EQ(whole_self, self);
  std::map<uint64_t, uint64_t> whole_threads;
  for (const ThreadProfile& t : whole.threads) whole_threads[t.id] = t.steps;
  EXPECT_EQ(whole_threads, per_thread);
}

}  // namespace
}  // namespace cb
