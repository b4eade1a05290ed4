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
    std::stable_sort(syms.begin(), syms.end(),
                     [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
    for (const Symbol& s : syms) {
      auto [it, fresh] = m_ids.emplace(s.name, uint32_t(m_names.size()));
      if (fresh) m_names.push_back(s.name);
      m_ranges.push_back(Range{s.start, s.start + s.size, it->second});
    }
  }
  uint32_t of(uint64_t pc) const {
    Memo& m = m_memo[(pc >> 2) & (kMemo - 1)];
    if (m.pc != pc) m = Memo{pc, search(pc)};
    return m.fn;
  }
  uint32_t search(uint64_t pc) const {
    auto it = std::upper_bound(m_ranges.begin(), m_ranges.end(), pc,
                               [](uint64_t a, const Range& r) { return a < r.start; });
    if (it == m_ranges.begin()) return kFnUnknown;
    --it;
    return pc < it->end ? it->fn : kFnUnknown;
  }
  const std::string& name(uint32_t fn) const { return m_names[fn]; }
  // The id of a function by name, or ~0 when the symbols have none.
  uint32_t id(const std::string& name) const {
    auto it = m_ids.find(name);
    return it == m_ids.end() ? ~uint32_t{0} : it->second;
  }
  size_t count() const { return m_names.size(); }

 private:
  struct Range {
    uint64_t start, end;
    uint32_t fn;
  };
  struct Memo {
    uint64_t pc = 1;  // no pc that runs is odd
    uint32_t fn = 0;
  };
  static constexpr size_t kMemo = 8192;
  mutable std::vector<Memo> m_memo = std::vector<Memo>(kMemo);
  std::vector<Range> m_ranges;
  std::vector<std::string> m_names;
  std::map<std::string, uint32_t> m_ids;
};

// Keys pack several ids into one word; std::hash is the identity, which would put every key
// with the same low bits into one probe chain.
struct MixHash {
  size_t operator()(uint64_t x) const {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return size_t(x);
  }
};
template <class V>
using U64Map = tsl::robin_map<uint64_t, V, MixHash>;

enum class End : uint8_t { kNone, kCall, kReturn };

// What a control instruction does to the shadow stack.
End classify(uint32_t w) {
  switch (decode(w)) {
    case Op::jal:
    case Op::jalr:
    case Op::bltzal:
    case Op::bgezal:
      return End::kCall;
    case Op::jr:
      return ((w >> 21) & 31) == kRegRA ? End::kReturn : End::kNone;
    default:
      return End::kNone;
  }
}

#ifdef CB_HAVE_JIT
#define CB_PROFILER_BASE : public StepObserver
#define CB_OVERRIDE override
#else
#define CB_PROFILER_BASE
#define CB_OVERRIDE
#endif

class Profiler CB_PROFILER_BASE {
 public:
  Profiler(const Functions& fns, const State& state)
      : m_fns(fns),
        m_state(state),
        m_go(fns.id("runtime.gogo") != kNoFn),
        m_mcall(fns.id("runtime.mcall")),
        m_systemstack(fns.id("runtime.systemstack")),
        m_morestack(fns.id("runtime.morestack")),
        m_morestack_noctxt(fns.id("runtime.morestack_noctxt")) {
    m_nodes.push_back(Node{0, kFnUnknown});  // root: no caller
    m_tags.push_back({0, 0});                // tag 0: never a valid tag
  }

#ifdef CB_HAVE_JIT
  bool is_event(const uint32_t* words, uint32_t len) CB_OVERRIDE {
    return len >= 2 && classify(words[len - 2]) != End::kNone;
  }
#endif

  // One interpreted step, before it runs.
  void on_interp_step(const State& s) CB_OVERRIDE {
    resolve();
    if (s.exited) return;                                                  // no step
    if (s.active().empty()) return add(ctx(~uint64_t{0}), kFnUnknown, 1);  // the panic step
    const Thread& t = s.current();
    Ctx& c = ctx(t.id);
    const uint64_t pc = t.cpu.pc;
    // The VM's own steps go below the function the thread is in, in the stacks.
    if (t.exited || s.steps_since_switch >= kSchedQuantum) {
      uint32_t under = child(c.node, m_fns.of(pc));
      return add_raw(ctx_index(c), under == kNoNode ? c.node : under,
                     t.exited ? kFnPop : kFnPreempt, 1);
    }
    add(c, m_fns.of(pc), 1);
    if (c.pending != End::kNone) {  // this step is the delay slot of the pending call/return
      m_fire = ctx_index(c);
      return;
    }
    if (pc & 3) return;
    End e = classify(fetch_insn(*s.memory, pc));
    if (e != End::kNone) {
      c.pending = e;
      c.call_pc = pc;
    }
  }

#ifdef CB_HAVE_JIT
  uint32_t tag(const Thread& t) CB_OVERRIDE {
    resolve();
    return ctx(t.id).tag;
  }

  void flush(jit::ProfileSlot& slot) CB_OVERRIDE {
    const auto [ci, node] = m_tags[slot.tag];
    const uint32_t fn = block_fn(slot.start, slot.len);
    if (fn != kMulti) {
      add_raw(ci, node, fn, slot.steps);
    } else {
      const uint64_t runs = slot.steps / slot.len;  // partial runs were taken back
      for (uint32_t i = 0; i < slot.len; ++i) add_raw(ci, node, m_fns.of(slot.start + 4 * i), runs);
    }
    slot.steps = 0;
  }

  void after_enter(const Thread& t, jit::ProfileSlot* partial, uint64_t partial_run) CB_OVERRIDE {
    Ctx& c = ctx(t.id);
    if (partial) {
      for (uint64_t i = 0; i < partial_run; ++i) add(c, m_fns.of(partial->start + 4 * i), 1);
      if (partial->event && partial_run + 1 == partial->len) {
        c.pending = classify(partial->words[partial->len - 2]);  // its delay slot is next
        c.call_pc = partial->start + 4 * (partial->len - 2);
      }
    }
  }

  uint32_t on_event(const Thread& t, jit::ProfileSlot& ev) CB_OVERRIDE {
    jit::ProfileSlot* event = &ev;
    Ctx& c = ctx(t.id);
    {
      // A call from the same (thread, node) goes to the same child: memo[0] = that key,
      // memo[1] = child node << 32 | its tag.
      const uint64_t ctl = event->start + 4 * (event->len - 2);
      const End e = classify(event->words[event->len - 2]);
      const uint64_t key = uint64_t(ctx_index(c)) << 32 | c.node;
      if (e == End::kCall && event->memo[0] == key && t.cpu.pc != ctl + 8 &&
          c.stack.size() < kMaxDepth && (!m_go || t.regs[kRegG] == c.g)) {
        c.stack.push_back(Frame{ctl + 8, c.node, c.tag});
        c.node = uint32_t(event->memo[1] >> 32);
        c.tag = uint32_t(event->memo[1]);
        return c.tag;
      }
      if (this->event(c, t, e, ctl, t.cpu.pc)) {
        event->memo[0] = key;
        event->memo[1] = uint64_t(c.node) << 32 | c.tag;
      }
    }
    return c.tag;
  }

#endif

  // Fires a call/return whose delay slot was the last interpreted step.
  void resolve() {
    if (m_fire == kNone) return;
    Ctx& c = m_ctxs[m_fire];
    m_fire = kNone;
    End e = c.pending;
    c.pending = End::kNone;
    if (const Thread* t = find_thread(m_state, c.id)) event(c, *t, e, c.call_pc, t->cpu.pc);
  }

  uint64_t attributed() const { return m_total; }
  void finish(ProfileResult& r) const;

 private:
  static constexpr uint32_t kMulti = ~uint32_t{0};
  static constexpr size_t kNone = ~size_t{0};
  static constexpr uint32_t kNoNode = ~uint32_t{0};
  static constexpr uint32_t kNoFn = ~uint32_t{0};
  struct Node {
    uint32_t parent, caller_fn;
  };
  struct Frame {
    uint64_t ret;
    uint32_t node, tag;  // the node (and tag) before the call
  };
  struct Ctx {
    uint64_t id = 0;
    uint32_t node = 0;
    uint32_t tag = 0;  // of (this ctx, node)
    std::vector<Frame> stack;
    End pending = End::kNone;
    uint64_t call_pc = 0;
    uint64_t g = 0;  // Go: the goroutine whose shadow stack `stack` is
  };

  static const Thread* find_thread(const State& s, uint64_t id) {
    for (const Thread& t : s.left)
      if (t.id == id) return &t;
    for (const Thread& t : s.right)
      if (t.id == id) return &t;
    return nullptr;
  }

  Ctx& ctx(uint64_t id) {
    if (m_last != kNone && m_ctxs[m_last].id == id) return m_ctxs[m_last];
    for (size_t i = 0; i < m_ctxs.size(); ++i)
      if (m_ctxs[i].id == id) return m_ctxs[m_last = i];
    m_ctxs.push_back(Ctx{});
    m_last = m_ctxs.size() - 1;
    m_ctxs.back().id = id;
    set_node(m_ctxs.back(), 0);
    return m_ctxs.back();
  }
  size_t ctx_index(const Ctx& c) const { return size_t(&c - m_ctxs.data()); }
  void set_node(Ctx& c, uint32_t node) {
    c.node = node;
    c.tag = tag_of(ctx_index(c), node);
  }
  uint32_t tag_of(size_t ci, uint32_t node) {
    const uint64_t k = uint64_t(ci) << 32 | node;
    auto it = m_tag_of.find(k);
    if (it != m_tag_of.end()) return it->second;
    const uint32_t tag = uint32_t(m_tags.size());
    m_tags.push_back({uint32_t(ci), node});
    m_tag_of.emplace(k, tag);
    return tag;
  }

  // The function of every instruction of [start, start + 4 len), or kMulti.
  uint32_t block_fn(uint64_t start, uint32_t len) {
    const uint64_t k = start | uint64_t(len) << 56;
    auto it = m_block_fn.find(k);
    if (it != m_block_fn.end()) return it->second;
    uint32_t fn = m_fns.of(start);
    for (uint32_t i = 1; i < len; ++i)
      if (m_fns.of(start + 4 * i) != fn) fn = kMulti;
    m_block_fn.emplace(k, fn);
    return fn;
  }

  static uint64_t key_of(size_t ctx, uint32_t node, uint32_t fn) {
    return uint64_t(ctx) << 48 | uint64_t(node) << 24 | fn;
  }
  void add_raw(size_t ci, uint32_t node, uint32_t fn, uint64_t n) {
    if (n == 0) return;
    m_counts[key_of(ci, node, fn)] += n;
    m_total += n;
  }
  void add(Ctx& c, uint32_t fn, uint64_t n) { add_raw(ctx_index(c), c.node, fn, n); }

  // The call-tree node for `caller` called from `node` (kNoNode past kMaxNodes).
  uint32_t child(uint32_t node, uint32_t caller) {
    uint64_t k = uint64_t(node) << 32 | caller;
    auto it = m_children.find(k);
    if (it != m_children.end()) return it->second;
    if (m_nodes.size() >= kMaxNodes) return kNoNode;
    m_nodes.push_back(Node{node, caller});
    m_children.emplace(k, uint32_t(m_nodes.size() - 1));
    return uint32_t(m_nodes.size() - 1);
  }

  // A call or return whose delay slot ran; `to` is where control went.
  // Returns true when it pushed an ordinary frame (what on_event may memoize).
  bool event(Ctx& c, const Thread& t, End e, uint64_t ctl_pc, uint64_t to) {
    const uint64_t ret = ctl_pc + 8;
    const uint32_t caller = m_fns.of(ctl_pc);
    if (m_go && t.regs[kRegG] != c.g) {
      // Another goroutine runs on this VM thread now: switch to its shadow stack. The first
      // call after mcall or morestack switched to g0 (that g is a g0), or after systemstack
      // switched to a known g0, starts g0's stack afresh, as they start g0's real stack at its
      // base (systemstack's switch back to the goroutine keeps the goroutine's stack).
      const uint64_t g = t.regs[kRegG];
      bool fresh = false;
      if (e == End::kCall && (caller == m_mcall || caller == m_morestack)) {
        m_g0s.insert(g);
        fresh = true;
      } else if (e == End::kCall && caller == m_systemstack) {
        fresh = m_g0s.count(g) != 0;
      }
      GStack& out = m_gstacks[c.g];
      out.stack.swap(c.stack);
      out.node = c.node;
      out.ctx = ctx_index(c);
      c.g = g;
      GStack& in = m_gstacks[c.g];
      c.stack.swap(in.stack);
      in.stack.clear();
      if (in.ctx != ctx_index(c))  // the goroutine moved to this VM thread: its frames' tags too
        for (Frame& f : c.stack) f.tag = tag_of(ctx_index(c), f.node);
      set_node(c, fresh ? 0 : in.node);
      if (fresh) c.stack.clear();
    }
    if (e == End::kCall) {
      if (to == ret || c.stack.size() >= kMaxDepth) return false;  // bal not taken / too deep
      // Go's stack growth restarts the function after newstack (on g0): not a frame of g.
      const uint32_t callee = m_go ? m_fns.of(to) : kNoFn;
      if (m_go && (callee == m_morestack || callee == m_morestack_noctxt)) return false;
      uint32_t next = child(c.node, caller);
      if (next == kNoNode) return false;
      c.stack.push_back(Frame{ret, c.node, c.tag});
      set_node(c, next);
      return true;
    } else if (e == End::kReturn) {
      for (size_t i = c.stack.size(); i-- > 0;) {
        if (c.stack[i].ret != to) continue;
        c.node = c.stack[i].node;
        c.tag = c.stack[i].tag;
        c.stack.resize(i);
        return false;
      }
    }
    return false;
  }

  const Functions& m_fns;
  const State& m_state;
  // A Go program (it has runtime.gogo): shadow stacks follow goroutines, by g (Go keeps it
  // in R30 on mips64), not VM threads; the counts stay per VM thread.
  struct GStack {
    std::vector<Frame> stack;
    uint32_t node = 0;
    size_t ctx = 0;  // the VM thread whose tags the frames hold
  };
  static constexpr unsigned kRegG = 30;
  const bool m_go;
  const uint32_t m_mcall, m_systemstack, m_morestack, m_morestack_noctxt;  // or kNoFn
  U64Map<GStack> m_gstacks;
  std::set<uint64_t> m_g0s;  // goroutines seen as g0 (switched to by mcall or morestack)
  std::vector<Node> m_nodes;
  U64Map<uint32_t> m_children;
  std::vector<Ctx> m_ctxs;
  size_t m_last = kNone, m_fire = kNone;
  std::vector<std::pair<uint32_t, uint32_t>> m_tags;  // tag -> (ctx index, node)
  U64Map<uint32_t> m_tag_of;
  U64Map<uint32_t> m_block_fn;
  U64Map<uint64_t> m_counts;  // (ctx, node, fn) -> steps
  uint64_t m_total = 0;
};

void Profiler::finish(ProfileResult& r) const {
  std::vector<uint64_t> self(m_fns.count(), 0), incl(m_fns.count(), 0);
  std::map<uint64_t, uint64_t> per_thread;
  std::map<std::string, uint64_t> folded;
  for (auto [key, n] : m_counts) {
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
    if (self[f] || incl[f])
      r.functions.push_back(FunctionProfile{m_fns.name(uint32_t(f)), self[f], incl[f]});
  std::sort(r.functions.begin(), r.functions.end(),
            [](const FunctionProfile& a, const FunctionProfile& b) {
              return a.self != b.self             ? a.self > b.self
                     : a.inclusive != b.inclusive ? a.inclusive > b.inclusive
                                                  : a.name < b.name;
            });
  for (auto [id, n] : per_thread) r.threads.push_back(ThreadProfile{id, n});
  r.folded.assign(folded.begin(), folded.end());
  r.attributed = m_total;
}

}  // namespace

ProfileResult profile_run(Vm& vm, const Metadata& symbols, const ProfileOptions& options) {
  Functions fns(symbols);
  State& s = vm.state();
  Profiler p(fns, s);
  ProfileResult r;
  r.start_step = s.step;
  StepStatus st = StepStatus::kOk;
#ifdef CB_HAVE_JIT
  if (options.jit) {
    JitEngine jit(vm);
    jit.set_observer(&p);
    while (!s.exited && s.step < options.stop_at && st == StepStatus::kOk)
      st = jit.run(options.stop_at);
    jit.flush_profile();
  } else
#endif
  {
    while (!s.exited && s.step < options.stop_at && st == StepStatus::kOk) {
      p.on_interp_step(s);
      st = vm.step();
    }
  }
  p.resolve();
  r.status = st;
  r.end_step = s.step;
  p.finish(r);
  return r;
}

}  // namespace cb
