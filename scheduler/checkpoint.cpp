#include "scheduler/checkpoint.h"

#include <cstdlib>

namespace cb {

State clone_without_memory(const State& s) {
  // State::clone() copies every field; with the memory swapped out it copies an empty one.
  // Going through clone() keeps this right when State gains fields. The const_cast only
  // swaps a pointer for the duration of the copy; callers never share `s` across threads
  // while it is live (checkpoint metas have an empty memory already, see below).
  State& m = const_cast<State&>(s);
  if (m.memory->page_count() == 0) return s.clone();
  std::unique_ptr<Memory> mem = std::move(m.memory);
  m.memory = std::make_unique<Memory>();
  State out = s.clone();
  m.memory = std::move(mem);
  return out;
}

Checkpoint::Checkpoint(State& live, const MemProof& proof2, bool keep_tree) : m_proof2(proof2) {
  // Both flush the Merkle caches: hash() below is cheap.
  m_memory = keep_tree ? live.memory->share() : live.memory->share_without_tree();
  m_hash = live.hash();
  m_step = live.step;
  m_meta = clone_without_memory(live);
}

std::shared_ptr<const Checkpoint> Checkpoint::adopt(State&& state, const MemProof& proof2) {
  std::shared_ptr<Checkpoint> c(new Checkpoint());
  c->m_proof2 = proof2;
  c->m_hash = state.hash();  // leaves the memory clean
  c->m_step = state.step;
  c->m_memory = std::move(state.memory);
  state.memory = std::make_unique<Memory>();
  c->m_meta = std::move(state);
  return c;
}

State Checkpoint::restore() const {
  // m_meta's memory is empty, so its clone() reads nothing shared but the thread vectors.
  State s = m_meta.clone();
  s.memory = m_memory->share_clean();
  return s;
}

void CheckpointSet::add(CheckpointPtr c) {
  std::lock_guard<std::mutex> lock(m_mu);
  m_by_step[c->step()] = std::move(c);
}

CheckpointPtr CheckpointSet::at_or_before(uint64_t step) const {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_by_step.upper_bound(step);
  if (it == m_by_step.begin()) return nullptr;
  return std::prev(it)->second;
}

CheckpointPtr CheckpointSet::exact(uint64_t step) const {
  std::lock_guard<std::mutex> lock(m_mu);
  auto it = m_by_step.find(step);
  return it == m_by_step.end() ? nullptr : it->second;
}

std::vector<uint64_t> CheckpointSet::steps() const {
  std::lock_guard<std::mutex> lock(m_mu);
  std::vector<uint64_t> out;
  for (auto& kv : m_by_step) out.push_back(kv.first);
  return out;
}

size_t CheckpointSet::size() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_by_step.size();
}

}  // namespace cb
