// libFuzzer harness: the ELF loader and the metadata reader on arbitrary bytes.
// Contract: either success or cb::ElfError (one line) — no crash, no other exception, no
// huge allocation, no sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "interp/elf_loader.h"

namespace {
uint64_t be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}
// A segment's memory size is loaded (zero-filled) page by page, in the reference too (it even
// allocates memsz - filesz bytes up front): a 10 TiB .bss is an out-of-memory by design, not a
// finding. Skip load_elf for inputs whose segments total more than 64 MiB.
bool huge_segments(const uint8_t* d, size_t n) {
  if (n < 64) return false;
  uint64_t phoff = be(d + 32, 8), phentsize = be(d + 54, 2), phnum = be(d + 56, 2), total = 0;
  for (uint64_t i = 0; i < phnum; ++i) {
    uint64_t h = phoff + i * phentsize;
    if (phentsize < 56 || h > n || n - h < 56) return false;  // the loader rejects these
    uint64_t memsz = be(d + h + 40, 8);
    if (memsz > (uint64_t{64} << 20)) return true;
    total += memsz;
    if (total > (uint64_t{64} << 20)) return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (!huge_segments(data, size)) try {
      cb::State s = cb::load_elf(bytes);
      // A loaded state must serialize and decode again.
      auto ser = s.serialize();
      cb::State back = cb::State::deserialize(ser);
      if (back.serialize() != ser) std::abort();
    } catch (const cb::ElfError& e) {
      if (std::strchr(e.what(), '\n')) std::abort();  // one line
    }
  try {
    cb::Metadata m = cb::elf_metadata(bytes);
    // lookups on whatever symbols were read must not crash
    (void)m.lookup(0);
    (void)m.lookup(0x10000);
    (void)m.lookup(~uint64_t{0});
    (void)m.to_json();
  } catch (const cb::ElfError& e) {
    if (std::strchr(e.what(), '\n')) std::abort();
  }
  return 0;
}
