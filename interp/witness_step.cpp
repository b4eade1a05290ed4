#include "interp/witness_step.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace cb {

namespace {

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

const Hash32& empty_stack_root() { return zero_hash(1); }

const char* slot_name(unsigned slot) {
  static const char* const kNames[3] = {"instruction", "data", "second data"};
  return kNames[slot];
}

// Answers the step's one pre-image read from the proof's oracle fields and notes what the
// step asked for (the Vm adds the 8-byte length prefix itself).
class WitnessOracle : public PreimageOracle {
 public:
  explicit WitnessOracle(const StepWitness& w) : m_w(w) {}
  void hint(std::span<const uint8_t>) override {}
  std::vector<uint8_t> get_preimage(const Hash32& key) override {
    asked = true;
    asked_key = key;
    if (!m_w.has_preimage || m_w.preimage_value.size() < 8) return {};
    return std::vector<uint8_t>(m_w.preimage_value.begin() + 8, m_w.preimage_value.end());
  }
  bool asked = false;
  Hash32 asked_key{};

 private:
  const StepWitness& m_w;
};

uint64_t be64_at(std::span<const uint8_t> b, size_t off) { return load_be64(b.data() + off); }

}  // namespace

Hash32 mem_proof_root(std::span<const uint8_t, kMemProofSize> proof, uint64_t addr) {
  Hash32 node;
  std::memcpy(node.data(), proof.data(), 32);
  uint64_t path = addr >> 5;
  for (unsigned i = 1; i < kMemProofLeafCount; ++i, path >>= 1) {
    Hash32 sibling;
    std::memcpy(sibling.data(), proof.data() + 32 * i, 32);
    node = (path & 1) ? keccak256_pair(sibling, node) : keccak256_pair(node, sibling);
  }
  return node;
}

WitnessView::WitnessView(const Hash32& mem_root, const uint8_t* proofs, const Thread& top,
                         const Hash32& inner, const Hash32& left_root, const Hash32& right_root,
                         bool top_on_right)
    : m_root(mem_root),
      m_proofs(proofs),
      m_top(top),
      m_inner(inner),
      m_roots{left_root, right_root},
      m_top_right(top_on_right) {}

bool WitnessView::bind(unsigned slot, uint64_t addr, const char* what) {
  Slot& s = m_slots[slot];
  const uint64_t leaf_addr = addr & ~uint64_t{31};
  if (s.bound) {
    if (s.addr == leaf_addr) return true;
    fail("memory proof " + std::to_string(slot) + " (" + slot_name(slot) +
         ") is needed at two addresses, " + hex64(s.addr) + " and " + hex64(leaf_addr));
    return false;
  }
  s.bound = true;
  s.addr = leaf_addr;
  std::memcpy(s.leaf.data(), proof(slot).data(), 32);
  if (mem_proof_root(proof(slot), addr) != m_root) {
    fail("memory proof " + std::to_string(slot) + " (" + slot_name(slot) + " at " + hex64(addr) +
         ") does not open against the memory root" + what);
    return false;
  }
  return true;
}

uint32_t WitnessView::fetch(uint64_t pc) {
  if (!bind(0, pc, "")) return 0;
  uint64_t w = load_be64(m_slots[0].leaf.data() + (pc & 24));
  return (pc & 4) ? uint32_t(w) : uint32_t(w >> 32);
}

void WitnessView::open(unsigned slot, uint64_t addr) {
  // The second data proof opens against the root the first data write left (MIPS64.sol's
  // clock_gettime); the first against the pre-state root (an instruction fetch writes nothing).
  if (bind(slot, addr, slot == 2 ? " after the first write" : "")) m_current = int(slot);
}

WitnessView::Slot* WitnessView::covering(uint64_t addr, const char* access) {
  if (m_current < 0 || m_slots[m_current].addr != (addr & ~uint64_t{31})) {
    fail(std::string("the step ") + access + " memory at " + hex64(addr) +
         " without a memory proof for it");
    return nullptr;
  }
  return &m_slots[m_current];
}

uint64_t WitnessView::get_word(uint64_t addr) {
  Slot* s = covering(addr, "reads");
  return s ? load_be64(s->leaf.data() + (addr & 24)) : 0;
}

void WitnessView::set_word(uint64_t addr, uint64_t v) {
  Slot* s = covering(addr, "writes");
  if (!s) return;
  store_be64(s->leaf.data() + (addr & 24), v);
  // The new root from the same proof: its siblings do not change (MIPS64Memory.writeMem).
  std::array<uint8_t, kMemProofSize> p;
  std::memcpy(p.data(), s->leaf.data(), 32);
  std::memcpy(p.data() + 32, proof(unsigned(m_current)).data() + 32, kMemProofSize - 32);
  m_root = mem_proof_root(p, addr);
}

bool WitnessView::stack_empty(bool right) const {
  if (m_top_live && right == m_top_right) return false;
  return m_roots[right] == empty_stack_root();
}

bool WitnessView::last_thread() const {
  return m_inner == empty_stack_root() && m_roots[!m_top_right] == empty_stack_root();
}

void WitnessView::remove_top() {
  m_roots[m_top_right] = m_inner;
  m_top_live = false;
}

void WitnessView::move_top_to_other() {
  m_roots[!m_top_right] = keccak256_pair(m_roots[!m_top_right], m_top.hash());
  m_roots[m_top_right] = m_inner;
  m_top_live = false;
}

void WitnessView::push_above_top(const Thread& t) {
  m_roots[m_top_right] = keccak256_pair(keccak256_pair(m_inner, m_top.hash()), t.hash());
  m_top_live = false;
}

Hash32 WitnessView::stack_root(bool right) const {
  if (m_top_live && right == m_top_right) return keccak256_pair(m_inner, m_top.hash());
  return m_roots[right];
}

WitnessCheck verify_step_witness(const StepWitness& w, uint64_t step, const Hash32& post) {
  WitnessCheck r;
  std::span<const uint8_t> sd(w.state);
  auto fail = [&](std::string why) {
    r.failure = std::move(why);
    return r;
  };
  // State witness layout (MIPS64.sol State; interp/state.cpp encode_witness).
  constexpr size_t kKey = 32, kPreOff = 64, kHeap = 72, kLLStatus = 80, kLLAddr = 81, kLLOwner = 89,
                   kStep = 99, kSinceSwitch = 107, kTraverse = 115, kLeft = 116, kRight = 148,
                   kNextId = 180;
  if (sd[kWitnessExitedOffset] > 1)
    return fail("state-data: exited is " + std::to_string(sd[kWitnessExitedOffset]) +
                ", not 0 or 1");
  if (sd[kTraverse] > 1)
    return fail("state-data: traverseRight is " + std::to_string(sd[kTraverse]) + ", not 0 or 1");
  const Hash32 pre = state_hash_from_witness(w.state);
  if (pre != w.state_hash) return fail("pre: state-data hashes to " + hex(pre) + ", not to pre");
  if (be64_at(sd, kStep) != step)
    return fail("step: " + std::to_string(step) + ", but state-data's step is " +
                std::to_string(be64_at(sd, kStep)));

  State s;
  s.left.clear();  // the stacks are known only by their roots (WitnessView)
  std::memcpy(s.preimage_key.data(), sd.data() + kKey, 32);
  s.preimage_offset = be64_at(sd, kPreOff);
  s.heap = be64_at(sd, kHeap);
  s.ll_status = sd[kLLStatus];
  s.ll_address = be64_at(sd, kLLAddr);
  s.ll_owner = be64_at(sd, kLLOwner);
  s.exit_code = sd[kWitnessExitCodeOffset];
  s.exited = sd[kWitnessExitedOffset] == 1;
  s.step = be64_at(sd, kStep);
  s.steps_since_switch = be64_at(sd, kSinceSwitch);
  s.traverse_right = sd[kTraverse] == 1;
  s.next_thread_id = be64_at(sd, kNextId);
  Hash32 mem_root, left, right;
  std::memcpy(mem_root.data(), sd.data(), 32);
  std::memcpy(left.data(), sd.data() + kLeft, 32);
  std::memcpy(right.data(), sd.data() + kRight, 32);

  if (s.exited) {
    // An exited VM does not change (MIPS64.sol returns the input state).
    r.post = pre;
    if (pre != post)
      return fail("post: the VM has exited, so post must equal pre (" + hex(pre) + ")");
    return r;
  }
  const char* side = s.traverse_right ? "right" : "left";
  const Hash32& active_root = s.traverse_right ? right : left;
  if (active_root == empty_stack_root())
    return fail(std::string("state-data: the active (") + side + ") thread stack is empty");

  if (w.proof_data.size() != kThreadWitnessSize + 3 * kMemProofSize)
    return fail("proof-data: " + std::to_string(w.proof_data.size()) + " bytes, want " +
                std::to_string(kThreadWitnessSize + 3 * kMemProofSize));
  const uint8_t* pd = w.proof_data.data();
  Thread top;
  top.id = load_be64(pd);
  top.exit_code = pd[8];
  if (pd[9] > 1)
    return fail("proof-data: the thread's exited byte is " + std::to_string(pd[9]) +
                ", not 0 or 1");
  top.exited = pd[9] == 1;
  top.cpu.pc = load_be64(pd + 10);
  top.cpu.next_pc = load_be64(pd + 18);
  top.cpu.lo = load_be64(pd + 26);
  top.cpu.hi = load_be64(pd + 34);
  for (unsigned i = 0; i < 32; ++i) top.regs[i] = load_be64(pd + 42 + 8 * i);
  Hash32 inner;
  std::memcpy(inner.data(), pd + kThreadSize, 32);
  if (keccak256_pair(inner, top.hash()) != active_root)
    return fail(std::string("proof-data: the thread witness does not hash to the ") + side +
                " thread stack root");

  // The oracle fields must describe the read the state would make.
  if (w.has_preimage) {
    if (w.preimage_key != s.preimage_key)
      return fail("oracle-key: " + hex(w.preimage_key) + ", but the state's pre-image key is " +
                  hex(s.preimage_key));
    if (w.preimage_offset != s.preimage_offset)
      return fail("oracle-offset: " + std::to_string(w.preimage_offset) +
                  ", but the state's pre-image offset is " + std::to_string(s.preimage_offset));
    const auto& v = w.preimage_value;
    if (v.size() < 8 || load_be64(v.data()) != v.size() - 8)
      return fail("oracle-value: its length prefix does not match its " +
                  std::to_string(v.size() < 8 ? 0 : v.size() - 8) + " bytes of data");
    // Keccak-256 keys (type 2) commit to the data; local keys (type 1) and the other types
    // are taken as given (on chain the oracle contract vouches for them).
    if (w.preimage_key[0] == 2) {
      Hash32 k = keccak256(v.data() + 8, v.size() - 8);
      k[0] = 2;
      if (k != w.preimage_key) return fail("oracle-value: its keccak256 does not match oracle-key");
    }
  }

  WitnessView view(mem_root, pd + kThreadWitnessSize, top, inner, left, right, s.traverse_right);
  WitnessOracle oracle(w);
  Vm vm(s, &oracle, nullptr);
  StepStatus st = vm.step_from_witness(view);
  if (!view.failure().empty()) return fail(view.failure());
  if (oracle.asked && !w.has_preimage)
    return fail("oracle-value: missing, but the step reads pre-image " + hex(oracle.asked_key));
  if (w.has_preimage && !vm.last_step_read_preimage())
    return fail("oracle-key: present, but the step reads no pre-image");
  if (st != StepStatus::kOk) return fail("step: the VM panics: " + vm.panic_message());

  // The post-state witness.
  std::array<uint8_t, kStateWitnessSize> out;
  std::memcpy(out.data(), w.state.data(), kStateWitnessSize);
  uint8_t* o = out.data();
  std::memcpy(o, view.mem_root().data(), 32);
  std::memcpy(o + kKey, s.preimage_key.data(), 32);
  store_be64(o + kPreOff, s.preimage_offset);
  store_be64(o + kHeap, s.heap);
  o[kLLStatus] = s.ll_status;
  store_be64(o + kLLAddr, s.ll_address);
  store_be64(o + kLLOwner, s.ll_owner);
  o[kWitnessExitCodeOffset] = s.exit_code;
  o[kWitnessExitedOffset] = s.exited ? 1 : 0;
  store_be64(o + kStep, s.step);
  store_be64(o + kSinceSwitch, s.steps_since_switch);
  o[kTraverse] = s.traverse_right ? 1 : 0;
  Hash32 l = view.stack_root(false), rr = view.stack_root(true);
  std::memcpy(o + kLeft, l.data(), 32);
  std::memcpy(o + kRight, rr.data(), 32);
  store_be64(o + kNextId, s.next_thread_id);
  r.post = state_hash_from_witness(out);
  if (r.post != post)
    return fail("post: the step from the witness gives " + hex(r.post) + ", not post");
  return r;
}

}  // namespace cb
