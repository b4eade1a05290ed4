#include "memory/keccak_multi.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "memory/keccak_multi_kernels.h"

namespace cb {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && keccak_avx2_compiled();
  }();
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__)
  // libgcc's check includes the OS enabling the zmm state (XGETBV). The CPU is asked first:
  // keccak_avx512_compiled() lives in a file built with -mavx512f.
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && keccak_avx512_compiled();
  }();
  return has;
#else
  return false;
#endif
}

KeccakImpl best_supported_at_most(KeccakImpl want) {
  if (want == KeccakImpl::Avx512 && cpu_has_avx512()) return KeccakImpl::Avx512;
  if ((want == KeccakImpl::Avx512 || want == KeccakImpl::Avx2) && cpu_has_avx2())
    return KeccakImpl::Avx2;
  return KeccakImpl::Scalar;
}

// What Auto means: CB_KECCAK if set (read once), else the best the CPU has.
KeccakImpl auto_choice() {
  static const KeccakImpl choice = [] {
    const char* env = std::getenv("CB_KECCAK");
    if (env && *env) {
      std::optional<KeccakImpl> impl = keccak_impl_from_name(env);
      if (impl && *impl != KeccakImpl::Auto) return best_supported_at_most(*impl);
      if (!impl)
        std::fprintf(stderr, "warning: CB_KECCAK=%s is not auto, scalar, avx2 or avx512; ignored\n",
                     env);
    }
    return best_supported_at_most(KeccakImpl::Avx512);
  }();
  return choice;
}

// Auto here means "not resolved yet".
std::atomic<KeccakImpl> g_impl{KeccakImpl::Auto};

KeccakImpl current() {
  KeccakImpl impl = g_impl.load(std::memory_order_relaxed);
  if (impl == KeccakImpl::Auto) {
    impl = auto_choice();
    g_impl.store(impl, std::memory_order_relaxed);
  }
  return impl;
}

void scalar_many(const uint8_t* const* in, Hash32* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = keccak256_64(in[i]);
}

using Kernel = void (*)(const uint8_t* const*, Hash32*, size_t);

// A group smaller than the kernel's width: below `min_lanes` inputs scalar is faster, above it
// the kernel with the missing lanes repeating the first input (bench/bench_keccak.cpp,
// BM_Keccak64Many with 1..7 inputs, picks the thresholds).
template <size_t kLanes>
void partial_group(Kernel kernel, const uint8_t* const* in, Hash32* out, size_t n,
                   size_t min_lanes) {
  if (n < min_lanes) return scalar_many(in, out, n);
  const uint8_t* ptrs[kLanes];
  Hash32 tmp[kLanes];
  for (size_t i = 0; i < kLanes; ++i) ptrs[i] = in[i < n ? i : 0];
  kernel(ptrs, tmp, 1);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[i];
}

// Below these many inputs in a partial group, scalar beats the padded kernel: one scalar hash
// (~300 ns here) costs more than a whole 8-lane group (~230 ns) but about 3/4 of a 4-lane one.
constexpr size_t kAvx2MinLanes = 2;
constexpr size_t kAvx512MinLanes = 1;

}  // namespace

void keccak256_64_many(const uint8_t* const* in, Hash32* out, size_t n) {
  switch (current()) {
    case KeccakImpl::Avx512: {
      size_t full = n / 8;
      keccak256_64_x8(in, out, full);
      in += 8 * full;
      out += 8 * full;
      n -= 8 * full;
      // One padded 8-lane group costs less than a 4-lane AVX2 group, so no AVX2 step here.
      return partial_group<8>(keccak256_64_x8, in, out, n, kAvx512MinLanes);
    }
    case KeccakImpl::Avx2: {
      size_t full = n / 4;
      keccak256_64_x4(in, out, full);
      return partial_group<4>(keccak256_64_x4, in + 4 * full, out + 4 * full, n - 4 * full,
                              kAvx2MinLanes);
    }
    default:
      return scalar_many(in, out, n);
  }
}

void keccak256_pairs_many(const Hash32* pairs, Hash32* out, size_t n) {
  // Pointer chunks for the generic entry point; a chunk's outputs land at or below the
  // pairs it read, so in-place stays correct (see keccak256_64_many's aliasing rule).
  constexpr size_t kChunk = 64;
  const uint8_t* ptrs[kChunk];
  for (size_t base = 0; base < n; base += kChunk) {
    size_t m = n - base < kChunk ? n - base : kChunk;
    for (size_t i = 0; i < m; ++i) ptrs[i] = pairs[2 * (base + i)].data();
    keccak256_64_many(ptrs, out + base, m);
  }
}

void keccak256_page_roots(const uint8_t* const* pages, Hash32* roots, size_t n) {
  constexpr size_t kGroup = 8, kChunks = 4096 / 64;
  const uint8_t* ptrs[kGroup * kChunks];
  Hash32 level[kGroup * kChunks];
  for (size_t base = 0; base < n; base += kGroup) {
    size_t k = n - base < kGroup ? n - base : kGroup;
    for (size_t p = 0; p < k; ++p)
      for (size_t i = 0; i < kChunks; ++i) ptrs[p * kChunks + i] = pages[base + p] + 64 * i;
    keccak256_64_many(ptrs, level, k * kChunks);
    // Level of width w (per page) sits at level[p * w + i], so node i's children are the pair
    // level[2 (p * w/2 + i)], level[2 (p * w/2 + i) + 1]: each level is one in-place pairs call.
    for (size_t w = kChunks / 2; w >= 1; w /= 2) keccak256_pairs_many(level, level, k * w);
    for (size_t p = 0; p < k; ++p) roots[base + p] = level[p];
  }
}

void set_keccak_impl(KeccakImpl impl) {
  g_impl.store(impl == KeccakImpl::Auto ? auto_choice() : best_supported_at_most(impl),
               std::memory_order_relaxed);
}

KeccakImpl keccak_impl_in_use() { return current(); }

bool keccak_impl_supported(KeccakImpl impl) {
  switch (impl) {
    case KeccakImpl::Avx512:
      return cpu_has_avx512();
    case KeccakImpl::Avx2:
      return cpu_has_avx2();
    default:
      return true;
  }
}

const char* keccak_impl_name(KeccakImpl impl) {
  switch (impl) {
    case KeccakImpl::Scalar:
      return "scalar";
    case KeccakImpl::Avx2:
      return "avx2";
    case KeccakImpl::Avx512:
      return "avx512";
    default:
      return "auto";
  }
}

std::optional<KeccakImpl> keccak_impl_from_name(std::string_view name) {
  for (KeccakImpl impl :
       {KeccakImpl::Auto, KeccakImpl::Scalar, KeccakImpl::Avx2, KeccakImpl::Avx512})
    if (name == keccak_impl_name(impl)) return impl;
  return std::nullopt;
}

}  // namespace cb
