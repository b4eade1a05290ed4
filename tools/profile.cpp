#include "tools/profile.h"

#include <tsl/robin_map.h>

#include <algorithm>
#include <map>
#include <set>

#include "interp/decoder.h"

#ifdef CB_HAVE_JIT
#include "jit/engine.h"
#endif

namespace cb {

namespace {

constexpr uint32_t kFnUnknown = 0, kFnPreempt = 1, kFnPop = 2, kFnFirst = 3;
constexpr size_t kMaxDepth = 1024;
constexpr uint32_t kMaxNodes = 1u << 22;

// pc -> function id, by binary search over the sized symbols (meta.json holds data symbols
// too; they never contain a pc that runs, except in guests that execute data).
class Functions {
public:
  explicit Functions(const Metadata& m) {
    m_names = {"[unknown]", "[vm: preempt]", "[vm: pop exited thread]"};
    std::vector<Symbol> syms;
    for (const Symbol& s : m.symbols)
      if (s.size) syms.push_back(s);
    std::stable_sort(syms.begin(), syms.end(), [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
    std::map<std::string, uint32_t> ids;
    for (const Symbol& s : syms) {
      auto [it, fresh] = ids.emplace(s.name, uint32_t(m_names.size()));
      if (fresh) m_names.push_back(s.name);
      m_ranges.push_back(Range{s.start, s.start + s.size, it->second});
    }
  }
  uint32_t of(uint64_t pc) const {
    auto it = std::upper_bound(m_ranges.begin(), m_ranges.end(), pc,
                               [](uint64_t a, const Range& r) { return a < r.start; });
    if (it == m_ranges.begin()) return kFnUnknown;
    --it;
    return pc < it->end ? it->fn : kFnUnknown;
  }
  const std::string& name(uint32_t fn) const { return m_names[fn]; }
  size_t count() const { return m_names.size(); }

private:
  struct Range {
    uint64_t start, end;
    uint32_t fn;
  };
  std::vector<Range> m_ranges;
  std::vector<std::string> m_names;
};

enum class End : uint8_t { kNone, kCall, kReturn };

// What a control instruction does to the shadow stack.
End classify(uint32_t w) {
  switch (decode(w)) {
    case Op::jal:
    case Op::jalr:
    case Op::bltzal:
    case Op::bgezal: return End::kCall;
    case Op::jr: return ((w >> 21) & 31) == kRegRA ? End::kReturn : End::kNone;
    default: return End::kNone;
  }
}

class Profiler {
public:
  explicit Profiler(const Functions& fns) : m_fns(fns) {
    m_nodes.push_back(Node{0, kFnUnknown});  // root: no caller
  }

  // One interpreted step, before it runs.
  void on_interp_step(const State& s) {
    if (s.exited) return;  // no step
    if (s.active().empty()) return add(ctx(~uint64_t{0}), kFnUnknown, 1);  // the panic step
    const Thread& t = s.current();
    Ctx& c = ctx(t.id);
    if (t.exited) return add(c, kFnPop, 1);
    if (s.steps_since_switch >= kSchedQuantum) return add(c, kFnPreempt, 1);
    const uint64_t pc = t.cpu.pc;
    add(c, m_fns.of(pc), 1);
    if (c.pending != End::kNone) {  // this step is the delay slot of the pending call/return
      c.fire = true;
      return;
    }
    if (pc & 3) return;
    const uint32_t w = fetch_insn(*s.memory, pc);
    End e = classify(w);
    if (e != End::kNone) {
      c.pending = e;
      c.call_pc = pc;
    }
  }
  // After the interpreted step: fire a call/return whose delay slot just ran.
  // `to`: where that thread went (its pc now, or the start of the block it ran next).
  void after_interp_step(const State& s, uint64_t thread_id, const uint64_t* to = nullptr) {
    Ctx& c = ctx(thread_id);
    if (!c.fire) return;
    c.fire = false;
    End e = c.pending;
    c.pending = End::kNone;
    const Thread* t = find_thread(s, thread_id);
    if (to) event(c, e, c.call_pc, *to);
    else if (t) event(c, e, c.call_pc, t->cpu.pc);
  }

  void on_block(const Thread& t, uint64_t start, const uint32_t* words, uint32_t steps) {
    BlockInfo& b = block(start, words, steps);
    Ctx& c = ctx(t.id);
    if (b.fn != kMulti) {
      add_cached(c, b, steps);
    } else {
      for (uint32_t i = 0; i < steps; ++i) add(c, m_fns.of(start + 4 * i), 1);
    }
    // Blocks never start in a delay slot (next_pc == pc + 4), so nothing is pending here.
    if (b.end != End::kNone && steps == b.len) event(c, b.end, start + 4 * (b.len - 2), t.cpu.pc);
    else if (b.end != End::kNone && steps == b.len - 1) {
      c.pending = b.end;  // the delay slot is the interpreter's next step on this thread
      c.call_pc = start + 4 * (b.len - 2);
    }
  }

  uint64_t attributed() const { return m_total; }
  void finish(ProfileResult& r) const;

private:
  static constexpr uint32_t kMulti = ~uint32_t{0};
  struct Node {
    uint32_t parent, caller_fn;
  };
  struct Frame {
    uint64_t ret;
    uint32_t node;  // the node before the call
  };
  struct Ctx {
    uint64_t id = 0;
    uint32_t node = 0;
    std::vector<Frame> stack;
    End pending = End::kNone;
    bool fire = false;
    uint64_t call_pc = 0;
  };
  struct BlockInfo {
    uint32_t len = 0, fn = 0;
    End end = End::kNone;
    uint32_t ctl_word = 0;   // the control word the classification came from
    uint64_t key = ~uint64_t{0};  // counter cache: (ctx, node, fn) key and its index
    uint64_t steps_seen = 0;
    size_t index = 0;
  };

  static const Thread* find_thread(const State& s, uint64_t id) {
    for (const Thread& t : s.left)
      if (t.id == id) return &t;
    for (const Thread& t : s.right)
      if (t.id == id) return &t;
    return nullptr;
  }

  Ctx& ctx(uint64_t id) {
    if (m_last && m_last->id == id) return *m_last;
    for (Ctx& c : m_ctxs)
      if (c.id == id) return *(m_last = &c);
    m_ctxs.push_back(Ctx{});
    m_ctxs.back().id = id;
    m_last = nullptr;  // the vector may have moved
    return *(m_last = &m_ctxs.back());
  }
  size_t ctx_index(const Ctx& c) const { return size_t(&c - m_ctxs.data()); }

  BlockInfo& block(uint64_t start, const uint32_t* words, uint32_t steps) {
    BlockInfo& b = m_blocks[start];
    // A block is re-described when its length or control word differ (a recompiled block
    // after self-modifying code); steps can be a prefix of the length, so track the longest.
    const bool fresh = b.len == 0;
    if (fresh || steps > b.len || (b.len >= 2 && words[b.len - 2] != b.ctl_word && steps >= b.len - 1)) {
      uint32_t len = std::max(steps, fresh ? steps : b.len);
      b.len = len;
      b.fn = m_fns.of(start);
      for (uint32_t i = 1; i < len; ++i)
        if (m_fns.of(start + 4 * i) != b.fn) b.fn = kMulti;
      b.end = End::kNone;
      if (len >= 2) {
        b.ctl_word = words[len - 2];
        b.end = classify(b.ctl_word);
      }
      b.key = ~uint64_t{0};
    }
    return b;
  }

  static uint64_t key_of(size_t ctx, uint32_t node, uint32_t fn) {
    return uint64_t(ctx) << 48 | uint64_t(node) << 24 | fn;
  }
  size_t counter(uint64_t key) {
    auto it = m_index.find(key);
    if (it != m_index.end()) return it->second;
    m_index.emplace(key, m_counts.size());
    m_counts.push_back(0);
    return m_counts.size() - 1;
  }
  void add(Ctx& c, uint32_t fn, uint64_t n) {
    m_counts[counter(key_of(ctx_index(c), c.node, fn))] += n;
    m_total += n;
  }
  void add_cached(Ctx& c, BlockInfo& b, uint64_t n) {
    uint64_t key = key_of(ctx_index(c), c.node, b.fn);
    if (key != b.key) {
      b.key = key;
      b.index = counter(key);
    }
    m_counts[b.index] += n;
    m_total += n;
  }

  // A call or return whose delay slot ran; `to` is where control went.
  void event(Ctx& c, End e, uint64_t ctl_pc, uint64_t to) {
    const uint64_t ret = ctl_pc + 8;
    if (e == End::kCall) {
      if (to == ret || c.stack.size() >= kMaxDepth) return;  // bal not taken / too deep
      uint32_t caller = m_fns.of(ctl_pc);
      uint64_t k = uint64_t(c.node) << 32 | caller;
      auto it = m_children.find(k);
      uint32_t child;
      if (it != m_children.end()) {
        child = it->second;
      } else if (m_nodes.size() < kMaxNodes) {
        child = uint32_t(m_nodes.size());
        m_nodes.push_back(Node{c.node, caller});
        m_children.emplace(k, child);
      } else {
        return;
      }
      c.stack.push_back(Frame{ret, c.node});
      c.node = child;
    } else {
      for (size_t i = c.stack.size(); i-- > 0;) {
        if (c.stack[i].ret != to) continue;
        c.node = c.stack[i].node;
        c.stack.resize(i);
        return;
      }
    }
  }

  const Functions& m_fns;
  std::vector<Node> m_nodes;
  tsl::robin_map<uint64_t, uint32_t> m_children;
  std::vector<Ctx> m_ctxs;
  Ctx* m_last = nullptr;
  tsl::robin_map<uint64_t, BlockInfo> m_blocks;
  tsl::robin_map<uint64_t, size_t> m_index;
  std::vector<uint64_t> m_counts;
  uint64_t m_total = 0;
};

void Profiler::finish(ProfileResult& r) const {
  std::vector<uint64_t> self(m_fns.count(), 0), incl(m_fns.count(), 0);
  std::map<uint64_t, uint64_t> per_thread;
  std::map<std::string, uint64_t> folded;
  for (auto [key, index] : m_index) {
    const uint64_t n = m_counts[index];
    if (n == 0) continue;
    const size_t ci = size_t(key >> 48);
    uint32_t node = uint32_t(key >> 24) & 0xffffff;
    const uint32_t fn = uint32_t(key & 0xffffff);
    self[fn] += n;
    per_thread[m_ctxs[ci].id] += n;
    std::vector<uint32_t> path{fn};
    for (; node != 0; node = m_nodes[node].parent) path.push_back(m_nodes[node].caller_fn);
    std::reverse(path.begin(), path.end());
    std::set<uint32_t> seen(path.begin(), path.end());  // recursion counts once
    for (uint32_t f : seen) incl[f] += n;
    std::string stack;
    for (uint32_t f : path) {
      if (!stack.empty()) stack += ';';
      stack += m_fns.name(f);
    }
    folded[stack] += n;
  }
  for (size_t f = 0; f < self.size(); ++f)
    if (self[f] || incl[f]) r.functions.push_back(FunctionProfile{m_fns.name(uint32_t(f)), self[f], incl[f]});
  std::sort(r.functions.begin(), r.functions.end(), [](const FunctionProfile& a, const FunctionProfile& b) {
    return a.self != b.self ? a.self > b.self : a.inclusive != b.inclusive ? a.inclusive > b.inclusive : a.name < b.name;
  });
  for (auto [id, n] : per_thread) r.threads.push_back(ThreadProfile{id, n});
  r.folded.assign(folded.begin(), folded.end());
  r.attributed = m_total;
}

}  // namespace

ProfileResult profile_run(Vm& vm, const Metadata& symbols, const ProfileOptions& options) {
  Functions fns(symbols);
  Profiler p(fns);
  State& s = vm.state();
  ProfileResult r;
  r.start_step = s.step;
  StepStatus st = StepStatus::kOk;
  auto interp_step = [&] {
    const uint64_t tid = s.active().empty() ? ~uint64_t{0} : s.current().id;
    p.on_interp_step(s);
    st = vm.step();
    if (tid != ~uint64_t{0}) p.after_interp_step(s, tid);
  };
#ifdef CB_HAVE_JIT
  if (options.jit) {
    // The engine calls on_interp_step() before its interpreter steps; the pending delay-slot
    // events are fired by the next on_interp_step/on_block of that thread instead.
    struct Bridge : StepObserver {
      Profiler& p;
      uint64_t tid = ~uint64_t{0};
      const State* s = nullptr;
      explicit Bridge(Profiler& p) : p(p) {}
      void flush() {
        if (tid != ~uint64_t{0}) p.after_interp_step(*s, tid);
        tid = ~uint64_t{0};
      }
      void on_interp_step(const State& st) override {
        flush();
        s = &st;
        tid = st.active().empty() ? ~uint64_t{0} : st.current().id;
        p.on_interp_step(st);
      }
      void on_block(const Thread& t, uint64_t start, const uint32_t* words, uint32_t steps) override {
        // The thread that took the last interpreted step may have run this block since: it
        // went to the block's start.
        if (tid == t.id) p.after_interp_step(*s, tid, &start);
        tid = ~uint64_t{0};
        flush();
        p.on_block(t, start, words, steps);
      }
    } bridge(p);
    JitEngine jit(vm);
    jit.set_observer(&bridge);
    while (!s.exited && s.step < options.stop_at && st == StepStatus::kOk) st = jit.run(options.stop_at);
    bridge.flush();
  } else
#endif
  {
    while (!s.exited && s.step < options.stop_at && st == StepStatus::kOk) interp_step();
  }
  r.status = st;
  r.end_step = s.step;
  p.finish(r);
  return r;
}

}  // namespace cb
