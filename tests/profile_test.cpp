// `cannonball profile` (tools/profile.h): every step attributed, the counts equal to an
// independent step-by-step count with the interpreter, identical with the JIT on and off, and
// a guest with a known hot function (tests/guests/hot) attributed to it.
#include "tools/profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "interp/elf_loader.h"
#include "test_util.h"

namespace cb {
namespace {

std::string hot_elf() { return std::string(CB_SOURCE_DIR) + "/tests/guests/elf/hot.elf"; }

// The oracle: one Vm::step() at a time, each step charged to the sized symbol holding the pc
// of the thread about to run (the VM's own preempt/pop steps under their own names).
struct Counts {
  std::map<std::string, uint64_t> per_fn;
  std::map<uint64_t, uint64_t> per_thread;
  uint64_t steps = 0;
};
Counts oracle_counts(State s, const Metadata& meta, uint64_t stop) {
  std::vector<Symbol> syms;
  for (const Symbol& x : meta.symbols)
    if (x.size) syms.push_back(x);
  std::sort(syms.begin(), syms.end(),
            [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
  Vm vm(s, nullptr, nullptr);
  Counts c;
  const uint64_t start = s.step;
  while (!s.exited && s.step < stop) {
    const Thread& t = s.current();
    std::string name = "[unknown]";
    if (t.exited) {
      name = "[vm: pop exited thread]";
    } else if (s.steps_since_switch >= kSchedQuantum) {
      name = "[vm: preempt]";
    } else {
      auto it = std::upper_bound(syms.begin(), syms.end(), t.cpu.pc,
                                 [](uint64_t pc, const Symbol& x) { return pc < x.start; });
      if (it != syms.begin() && t.cpu.pc < (it - 1)->start + (it - 1)->size) name = (it - 1)->name;
    }
    ++c.per_fn[name];
    ++c.per_thread[t.id];
    if (vm.step() != StepStatus::kOk) break;
  }
  c.steps = s.step - start;
  return c;
}

ProfileResult run_profile(State s, const Metadata& meta, bool jit, uint64_t stop = ~uint64_t{0}) {
  Vm vm(s, nullptr, nullptr);
  ProfileOptions o;
  o.jit = jit;
  o.stop_at = stop;
  return profile_run(vm, meta, o);
}

void expect_matches_oracle(const ProfileResult& r, const Counts& c) {
  EXPECT_EQ(r.end_step - r.start_step, c.steps);
  EXPECT_EQ(r.attributed, c.steps);
  std::map<std::string, uint64_t> self;
  for (const FunctionProfile& f : r.functions)
    if (f.self) self[f.name] = f.self;
  EXPECT_EQ(self, c.per_fn);
  std::map<uint64_t, uint64_t> threads;
  for (const ThreadProfile& t : r.threads) threads[t.id] = t.steps;
  EXPECT_EQ(threads, c.per_thread);
}

void expect_same(const ProfileResult& a, const ProfileResult& b) {
  EXPECT_EQ(a.end_step, b.end_step);
  EXPECT_EQ(a.attributed, b.attributed);
  ASSERT_EQ(a.functions.size(), b.functions.size());
  for (size_t i = 0; i < a.functions.size(); ++i) {
    EXPECT_EQ(a.functions[i].name, b.functions[i].name);
    EXPECT_EQ(a.functions[i].self, b.functions[i].self) << a.functions[i].name;
    EXPECT_EQ(a.functions[i].inclusive, b.functions[i].inclusive) << a.functions[i].name;
  }
  EXPECT_EQ(a.folded, b.folded);
}

TEST(Profile, HotGuestIsAttributedToItsHotFunction) {
  std::vector<uint8_t> elf = test::read_bytes(hot_elf());
  const Metadata meta = elf_metadata(elf);
  const Counts c = oracle_counts(load_elf(elf), meta, ~uint64_t{0});
  for (bool jit : {true, false}) {
    ProfileResult r = run_profile(load_elf(elf), meta, jit);
    SCOPED_TRACE(jit ? "jit on" : "jit off");
    expect_matches_oracle(r, c);
    ASSERT_FALSE(r.functions.empty());
    // hot_loop (GCC names it hot_loop.constprop.0) holds most steps, its callee mix the rest.
    EXPECT_EQ(r.functions[0].name.rfind("hot_loop", 0), 0u) << r.functions[0].name;
    EXPECT_GT(r.functions[0].self, r.end_step * 8 / 10);
    EXPECT_EQ(r.functions[1].name, "mix");
    // The stacks: mix runs only under _start;main;hot_loop.
    const std::string hot_stack = "_start;main;" + r.functions[0].name;
    uint64_t under_mix = 0, mix_elsewhere = 0;
    for (const auto& [stack, n] : r.folded) {
      if (stack == hot_stack + ";mix")
        under_mix += n;
      else if (stack.find("mix") != std::string::npos && stack.find("[vm:") == std::string::npos)
        mix_elsewhere += n;
    }
    EXPECT_EQ(under_mix, c.per_fn.at("mix"));
    EXPECT_EQ(mix_elsewhere, 0u);
    for (const FunctionProfile& f : r.functions) {
      if (f.name == "_start") EXPECT_EQ(f.inclusive, r.end_step);  // everything runs under _start
      if (f.name == "main") EXPECT_EQ(f.inclusive, r.end_step - c.per_fn.at("_start"));
    }
  }
}

// selfmod rewrites code that is compiled and running: blocks are invalidated mid-run, leave
// early after a store into themselves, and are recompiled with other words.
TEST(Profile, SelfModifyingGuestMatchesOracleJitOnAndOff) {
  std::vector<uint8_t> elf =
      test::read_bytes(std::string(CB_SOURCE_DIR) + "/tests/guests/elf/selfmod.elf");
  const Metadata meta = elf_metadata(elf);
  ProfileResult on = run_profile(load_elf(elf), meta, true),
                off = run_profile(load_elf(elf), meta, false);
  expect_same(on, off);
  expect_matches_oracle(on, oracle_counts(load_elf(elf), meta, ~uint64_t{0}));
}

TEST(Profile, ReferenceGuestsMatchOracleJitOnAndOff) {
  CB_REQUIRE_REFERENCE();
  // hello to its end; threads (several VM threads, preemptions, futexes) for its first 10 M steps.
  for (auto [guest, stop] :
       {std::pair<const char*, uint64_t>{"hello", ~uint64_t{0}}, {"threads", 10'000'000}}) {
    SCOPED_TRACE(guest);
    const std::string dir = test::reference_dir() + "/vectors/" + guest;
    auto s0 = [&] { return test::load_state_file(dir + "/initial.bin.gz"); };
    const Metadata meta = Metadata::from_json(test::read_text(dir + "/meta.json"));
    ProfileResult on = run_profile(s0(), meta, true, stop),
                  off = run_profile(s0(), meta, false, stop);
    expect_same(on, off);
    expect_matches_oracle(on, oracle_counts(s0(), meta, stop));
    EXPECT_GT(on.threads.size(), 1u);
  }
}

// A minimal protobuf reader (wire types 0 and 2 only, all pprof uses): field -> values.
struct PbMsg {
  std::multimap<unsigned, uint64_t> ints;
  std::multimap<unsigned, std::string> bytes;
};
PbMsg pb_parse(const std::string& b) {
  PbMsg m;
  size_t i = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; i < b.size(); shift += 7) {
      uint8_t c = uint8_t(b[i++]);
      v |= uint64_t(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    ADD_FAILURE() << "truncated varint";
    return v;
  };
  while (i < b.size()) {
    uint64_t key = varint();
    if ((key & 7) == 0) {
      m.ints.emplace(unsigned(key >> 3), varint());
    } else if ((key & 7) == 2) {
      uint64_t n = varint();
      if (n > b.size() - i) {
        ADD_FAILURE() << "truncated field";
        break;
      }
      m.bytes.emplace(unsigned(key >> 3), b.substr(i, n));
      i += n;
    } else {
      ADD_FAILURE() << "wire type " << (key & 7);
      break;
    }
  }
  return m;
}
std::vector<uint64_t> pb_packed(const std::string& b) {
  std::vector<uint64_t> out;
  size_t i = 0;
  while (i < b.size()) {
    uint64_t v = 0;
    for (int shift = 0; i < b.size(); shift += 7) {
      uint8_t c = uint8_t(b[i++]);
      v |= uint64_t(c & 0x7f) << shift;
      if (!(c & 0x80)) break;
    }
    out.push_back(v);
  }
  return out;
}

// The pprof encoding decodes back to the folded stacks: sample values (leaf-first location
// ids -> function names through the string table) equal each stack's steps.
TEST(Profile, PprofEncodesTheFoldedStacks) {
  std::vector<uint8_t> elf = test::read_bytes(hot_elf());
  ProfileResult r = run_profile(load_elf(elf), elf_metadata(elf), true);
  PbMsg p = pb_parse(profile_pprof(r));
  std::vector<std::string> strings;
  for (auto it = p.bytes.lower_bound(6); it != p.bytes.upper_bound(6); ++it)
    strings.push_back(it->second);
  ASSERT_FALSE(strings.empty());
  EXPECT_EQ(strings[0], "");
  std::map<uint64_t, std::string> fn_name, loc_fn;
  for (auto it = p.bytes.lower_bound(5); it != p.bytes.upper_bound(5); ++it) {
    PbMsg f = pb_parse(it->second);
    fn_name[f.ints.find(1)->second] = strings.at(f.ints.find(2)->second);
  }
  for (auto it = p.bytes.lower_bound(4); it != p.bytes.upper_bound(4); ++it) {
    PbMsg l = pb_parse(it->second);
    PbMsg line = pb_parse(l.bytes.find(4)->second);
    loc_fn[l.ints.find(1)->second] = fn_name.at(line.ints.find(1)->second);
  }
  std::vector<std::pair<std::string, uint64_t>> stacks;
  for (auto it = p.bytes.lower_bound(2); it != p.bytes.upper_bound(2); ++it) {
    PbMsg smp = pb_parse(it->second);
    std::vector<uint64_t> locs = pb_packed(smp.bytes.find(1)->second);
    std::vector<uint64_t> vals = pb_packed(smp.bytes.find(2)->second);
    ASSERT_EQ(vals.size(), 1u);
    std::string stack;
    for (size_t i = locs.size(); i-- > 0;) stack += (stack.empty() ? "" : ";") + loc_fn.at(locs[i]);
    stacks.emplace_back(stack, vals[0]);
  }
  std::sort(stacks.begin(), stacks.end());
  EXPECT_EQ(stacks, r.folded);
}

TEST(Profile, CliWritesTableFoldedAndSvg) {
  const std::string d = test::temp_dir("profile_cli");
  const std::string cb = test::shell_quote(test::cannonball());
  auto load = test::run_cmd(cb + " load-elf --type multithreaded64-5 --path " +
                            test::shell_quote(hot_elf()) + " --out " + d + "/s.bin.gz --meta " + d +
                            "/meta.json");
  ASSERT_EQ(load.exit_code, 0) << load.err;
  auto r = test::run_cmd(cb + " profile --input " + d + "/s.bin.gz --meta " + d +
                         "/meta.json --folded " + d + "/f.txt --svg " + d + "/f.svg --pprof " + d +
                         "/f.pb.gz -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("attributed (all)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hot_loop"), std::string::npos) << r.out;
  const std::string folded = test::read_text(d + "/f.txt");
  EXPECT_NE(folded.find("_start;main;hot_loop"), std::string::npos) << folded;
  const std::string svg = test::read_text(d + "/f.svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("hot_loop"), std::string::npos);
  EXPECT_FALSE(test::read_bytes(d + "/f.pb.gz").empty());  // gunzips (read_bytes checks the stream)
  auto bad = test::run_cmd(cb + " profile --input " + d + "/missing.bin.gz");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << bad.err;
}

}  // namespace
}  // namespace cb
