// Pure value semantics of MIPS64 instructions as the reference defines them (including its
// exact treatment of sub-word and unaligned accesses inside the 8-byte word). Shared by the
// interpreter and the JIT's helper calls so that both compute with the very same code.
#pragma once
#include <cstdint>

namespace cb::sem {

inline uint64_t sext(uint64_t v, unsigned bits) {
  if (bits >= 64) return v;
  uint64_t mask = (uint64_t{1} << bits) - 1;
  v &= mask;
  return (v >> (bits - 1)) & 1 ? v | ~mask : v;
}
inline uint64_t sext32(uint64_t v) { return uint64_t(int64_t(int32_t(uint32_t(v)))); }
inline uint64_t simm(uint32_t insn) { return uint64_t(int64_t(int16_t(insn & 0xffff))); }

// Sub-word select/update: `len` bytes (1, 2, 4, 8) at vaddr, aligned down to `len` inside the
// big-endian 8-byte word (reference: calculateSubWordMaskAndOffset).
inline unsigned subword_shift(uint64_t vaddr, unsigned len) {
  uint64_t byte_index = vaddr & 7 & ~uint64_t(len - 1);
  return unsigned((8 - len - byte_index) * 8);
}
inline uint64_t subword_mask(unsigned len) {
  return len == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
}
inline uint64_t select_subword(uint64_t vaddr, uint64_t mem, unsigned len, bool sign) {
  uint64_t v = (mem >> subword_shift(vaddr, len)) & subword_mask(len);
  return sign ? sext(v, 8 * len) : v;
}
inline uint64_t update_subword(uint64_t vaddr, uint64_t mem, unsigned len, uint64_t value) {
  unsigned sh = subword_shift(vaddr, len);
  uint64_t m = subword_mask(len);
  return ((value & m) << sh) | (mem & ~(m << sh));
}

inline uint64_t lwl(uint64_t addr, uint64_t mem, uint64_t rt) {
  uint32_t w = uint32_t(select_subword(addr, mem, 4, false));
  unsigned s = unsigned(addr & 3) * 8;
  uint32_t val = w << s;
  uint64_t mask = uint32_t(0xFFFFFFFFu << s);
  return sext32(((rt & ~mask) | val) & 0xFFFFFFFFu);
}
inline uint64_t lwr(uint64_t addr, uint64_t mem, uint64_t rt) {
  uint32_t w = uint32_t(select_subword(addr, mem, 4, false));
  unsigned s = 24 - unsigned(addr & 3) * 8;
  uint32_t val = w >> s;
  uint32_t mask = 0xFFFFFFFFu >> s;
  uint32_t r = (uint32_t(rt) & ~mask) | val;
  if ((addr & 3) == 3) return sext32(r);  // loaded bit 31
  return (rt & 0xFFFFFFFF00000000ULL) | r;
}
inline uint64_t swl(uint64_t addr, uint64_t mem, uint64_t rt) {
  unsigned sr = unsigned(addr & 3) << 3;
  unsigned sl = 32 - unsigned((addr & 4) << 3);
  uint64_t val = ((rt & 0xFFFFFFFFu) >> sr) << sl;
  uint64_t mask = (uint64_t{0xFFFFFFFFu} >> sr) << sl;
  return (mem & ~mask) | val;
}
inline uint64_t swr(uint64_t addr, uint64_t mem, uint64_t rt) {
  uint32_t w = uint32_t(select_subword(addr, mem, 4, false));
  unsigned s = 24 - unsigned(addr & 3) * 8;
  uint64_t val = rt << s;
  uint32_t mask = 0xFFFFFFFFu << s;
  uint32_t r = (w & ~mask) | uint32_t(val);
  return update_subword(addr, mem, 4, r);
}
inline uint64_t ldl(uint64_t addr, uint64_t mem, uint64_t rt) {
  unsigned sl = unsigned(addr & 7) << 3;
  uint64_t val = mem << sl;
  uint64_t mask = ~uint64_t{0} << sl;
  return val | (rt & ~mask);
}
inline uint64_t ldr(uint64_t addr, uint64_t mem, uint64_t rt) {
  unsigned sr = 56 - (unsigned(addr & 7) << 3);
  uint64_t val = mem >> sr;
  // Go: ^0 << (64 - sr); a shift by 64 gives 0 there.
  uint64_t mask = (64 - sr) >= 64 ? 0 : ~uint64_t{0} << (64 - sr);
  return val | (rt & mask);
}
inline uint64_t lwu(uint64_t addr, uint64_t mem) {
  return (mem >> (32 - ((addr & 4) << 3))) & 0xFFFFFFFFu;
}
inline uint64_t sdl(uint64_t addr, uint64_t mem, uint64_t rt) {
  unsigned sr = unsigned(addr & 7) << 3;
  uint64_t val = rt >> sr;
  uint64_t mask = ~uint64_t{0} >> sr;
  return val | (mem & ~mask);
}
inline uint64_t sdr(uint64_t addr, uint64_t mem, uint64_t rt) {
  unsigned sl = 56 - (unsigned(addr & 7) << 3);
  uint64_t val = rt << sl;
  uint64_t mask = ~uint64_t{0} << sl;
  return val | (mem & ~mask);
}

inline uint64_t clz32(uint64_t rs) {
  uint32_t v = uint32_t(rs);
  return v == 0 ? 32 : __builtin_clz(v);
}
inline uint64_t clz64(uint64_t rs) { return rs == 0 ? 64 : __builtin_clzll(rs); }

// HI/LO results.
inline void mult(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  uint64_t acc = uint64_t(int64_t(int32_t(rs)) * int64_t(int32_t(rt)));
  hi = sext32(acc >> 32);
  lo = sext32(acc);
}
inline void multu(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  uint64_t acc = uint64_t(uint32_t(rs)) * uint64_t(uint32_t(rt));
  hi = sext32(acc >> 32);
  lo = sext32(acc);
}
// Callers check for a zero divisor first (the reference panics). INT_MIN / -1 wraps as in Go.
inline void div32(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  int32_t a = int32_t(rs), b = int32_t(rt);
  if (b == -1) {
    lo = sext32(uint32_t(0) - uint32_t(a));
    hi = 0;
  } else {
    hi = sext32(uint32_t(a % b));
    lo = sext32(uint32_t(a / b));
  }
}
inline void divu32(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  hi = sext32(uint32_t(rs) % uint32_t(rt));
  lo = sext32(uint32_t(rs) / uint32_t(rt));
}
inline void dmult(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  __int128 p = __int128(int64_t(rs)) * __int128(int64_t(rt));
  hi = uint64_t(static_cast<unsigned __int128>(p) >> 64);
  lo = uint64_t(p);
}
inline void dmultu(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  unsigned __int128 p = static_cast<unsigned __int128>(rs) * rt;
  hi = uint64_t(p >> 64);
  lo = uint64_t(p);
}
inline void ddiv(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  int64_t a = int64_t(rs), b = int64_t(rt);
  if (b == -1) {
    lo = uint64_t(0) - uint64_t(a);
    hi = 0;
  } else {
    hi = uint64_t(a % b);
    lo = uint64_t(a / b);
  }
}
inline void ddivu(uint64_t rs, uint64_t rt, uint64_t& hi, uint64_t& lo) {
  hi = rs % rt;
  lo = rs / rt;
}

inline uint64_t splitmix64(uint64_t seed) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace cb::sem
