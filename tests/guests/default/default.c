/* default.c - the default main-job guest: deterministic, CPU-bound, single-threaded.
 *
 * Each round regenerates a data block from a xorshift64 seed and runs a mix of kernels over it:
 * SHA-256 (32-bit ALU, byte loads), FNV-1a 64 (64-bit multiply), a recursive merge sort of
 * 32-bit words in mmap'd heap memory (lwu/sw, calls), an insertion sort of halfwords (lhu/sh),
 * a byte sieve of Eratosthenes (lbu/sb), 32- and 64-bit multiply/divide (mult[u], dmult[u],
 * div[u], ddiv[u], mfhi/mflo, clz/dclz), unaligned accesses through packed structs (lwl/lwr,
 * ldl/ldr, swl/swr, sdl/sdr, signed lb/lh at odd offsets), and a small bytecode interpreter
 * whose switch becomes a jump table (jr through .rodata). Kernels are called through a table of
 * function pointers (jalr). All results fold into one digest, printed as one line at the end.
 *
 * The amount of work is ROUNDS; one round is about 7.6 million MIPS instructions (counted with
 * a model of the reference VM), so ROUNDS 24 is about 183 million steps (183,465,677).
 */
#include "../common/sys.h"

#define ROUNDS 24

#define DATA_BYTES 16384 /* generated input per round */
#define SORT_N 4096      /* 32-bit words merge-sorted per round */
#define ISORT_N 384      /* halfwords insertion-sorted per round */
#define SIEVE_N 65536    /* sieve bound */
#define DIV_ITERS 12000  /* multiply/divide iterations per round */
#define BYTECODE_N 5000  /* bytecode loop iterations per round */

static uint8_t g_data[DATA_BYTES];
static uint8_t g_mix_out[DATA_BYTES + 16];
static uint16_t g_halves[ISORT_N];
static uint8_t g_sieve[SIEVE_N + 1];
static uint32_t *g_sort;     /* SORT_N words, mmap'd (heap addresses above 2^44) */
static uint32_t *g_sort_tmp; /* SORT_N words, mmap'd */

/* ---- PRNG ------------------------------------------------------------------------------- */

static uint64_t xorshift64(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *s = x;
  return x;
}

static void fill_data(uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < DATA_BYTES; i += 8) {
    uint64_t v = xorshift64(&s);
    /* Byte stores, most significant first: the same bytes on any host. */
    for (int b = 0; b < 8; b++) g_data[i + b] = (uint8_t)(v >> (56 - 8 * b));
  }
}

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------------------- */

struct sha256 {
  uint32_t h[8];
  uint8_t block[64];
  size_t fill;
  uint64_t total;
};

static const uint32_t kSha256K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_init(struct sha256 *c) {
  static const uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int i = 0; i < 8; i++) c->h[i] = kInit[i];
  c->fill = 0;
  c->total = 0;
}

static void sha256_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) {
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           p[4 * i + 3];
  }
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 =
        k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
    uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

static void sha256_update(struct sha256 *c, const uint8_t *p, size_t n) {
  c->total += n;
  while (n) {
    if (c->fill == 0 && n >= 64) {
      sha256_block(c->h, p);
      p += 64;
      n -= 64;
      continue;
    }
    c->block[c->fill++] = *p++;
    n--;
    if (c->fill == 64) {
      sha256_block(c->h, c->block);
      c->fill = 0;
    }
  }
}

static void sha256_final(struct sha256 *c, uint8_t out[32]) {
  uint64_t bits = c->total * 8;
  uint8_t pad = 0x80;
  sha256_update(c, &pad, 1);
  pad = 0;
  while (c->fill != 56) sha256_update(c, &pad, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(c, len, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

/* ---- the kernels (each folds its result into the running digest) --------------------- */

struct digest {
  uint8_t sha[32]; /* chained: sha = SHA-256(sha || data) each round */
  uint64_t fnv;
  uint64_t sort_sum;
  uint64_t primes;
  uint64_t arith;
  uint64_t mix;
  uint64_t vm;
};

static void k_sha256(struct digest *d, uint64_t round) {
  (void)round;
  struct sha256 c;
  sha256_init(&c);
  sha256_update(&c, d->sha, sizeof d->sha);
  sha256_update(&c, g_data, DATA_BYTES);
  sha256_final(&c, d->sha);
}

static void k_fnv(struct digest *d, uint64_t round) {
  uint64_t h = 0xcbf29ce484222325ull ^ round;
  for (size_t i = 0; i < DATA_BYTES; i++) {
    h ^= g_data[i];
    h *= 0x100000001b3ull;
  }
  d->fnv ^= h;
}

static void merge_sort(uint32_t *a, uint32_t *tmp, size_t n) {
  if (n < 2) return;
  size_t half = n / 2;
  merge_sort(a, tmp, half);
  merge_sort(a + half, tmp, n - half);
  size_t i = 0, j = half, o = 0;
  while (i < half && j < n) tmp[o++] = a[i] <= a[j] ? a[i++] : a[j++];
  while (i < half) tmp[o++] = a[i++];
  while (j < n) tmp[o++] = a[j++];
  for (size_t k = 0; k < n; k++) a[k] = tmp[k];
}

static void k_sort(struct digest *d, uint64_t round) {
  /* Words from the data block; aligned 32-bit loads, assembled big-endian. */
  for (size_t i = 0; i < SORT_N; i++) {
    const uint8_t *p = g_data + 4 * i;
    g_sort[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  }
  merge_sort(g_sort, g_sort_tmp, SORT_N);
  uint64_t sum = round;
  for (size_t i = 0; i < SORT_N; i++) {
    if (i && g_sort[i - 1] > g_sort[i]) sum += 0xdead; /* never: the sort is correct */
    sum = sum * 31 + g_sort[i] * (uint64_t)(i + 1);
  }

  /* Insertion sort of signed halfwords (lh/sh), keyed differently each round. */
  for (size_t i = 0; i < ISORT_N; i++) {
    g_halves[i] = (uint16_t)(g_data[2 * i + (round & 7)] << 8 | g_data[2 * i + 1]);
  }
  for (size_t i = 1; i < ISORT_N; i++) {
    int16_t v = (int16_t)g_halves[i];
    size_t j = i;
    while (j > 0 && (int16_t)g_halves[j - 1] > v) {
      g_halves[j] = g_halves[j - 1];
      j--;
    }
    g_halves[j] = (uint16_t)v;
  }
  for (size_t i = 0; i < ISORT_N; i++) sum = sum * 7 + (uint64_t)(int64_t)(int16_t)g_halves[i];
  d->sort_sum ^= sum;
}

static void k_sieve(struct digest *d, uint64_t round) {
  /* The bound varies a little per round so the work is not identical. */
  size_t n = SIEVE_N - (round & 63) * 17;
  for (size_t i = 0; i <= n; i++) g_sieve[i] = 1;
  g_sieve[0] = g_sieve[1] = 0;
  for (size_t i = 2; i * i <= n; i++) {
    if (!g_sieve[i]) continue;
    for (size_t j = i * i; j <= n; j += i) g_sieve[j] = 0;
  }
  uint64_t count = 0, sum = 0;
  for (size_t i = 2; i <= n; i++) {
    if (g_sieve[i]) {
      count++;
      sum += i;
    }
  }
  d->primes = d->primes * 1000003 + count + (sum << 20);
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static void k_arith(struct digest *d, uint64_t round) {
  uint64_t s = 0x243f6a8885a308d3ull + round;
  uint64_t acc = 0;
  for (int i = 0; i < DIV_ITERS; i++) {
    uint64_t a = xorshift64(&s);
    uint64_t b = (xorshift64(&s) >> (i & 31)) | 1;
    int64_t sa = (int64_t)a;
    int64_t sb = (int64_t)(b | (uint64_t)(i & 1) << 63); /* negative half the time */
    uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b | 1;
    int32_t sa32 = (int32_t)a32, sb32 = (int32_t)(b32 | (uint32_t)(i & 2) << 30);
    /* MIN / -1 overflows (undefined in C, unpredictable on MIPS): keep it out. */
    if (sb == -1) sb = 3;
    if (sb32 == -1) sb32 = 3;
    acc += a / b + a % b;                                                       /* ddivu */
    acc ^= (uint64_t)(sa / sb) + (uint64_t)(sa % sb);                           /* ddiv */
    acc += (uint64_t)(a32 / b32) ^ (uint64_t)(a32 % b32);                       /* divu */
    acc += (uint64_t)(int64_t)(sa32 / sb32) - (uint64_t)(int64_t)(sa32 % sb32); /* div */
    acc += (uint64_t)((unsigned __int128)a * b >> 64);                          /* dmultu */
    acc ^= (uint64_t)((__int128)sa * sb >> 64);                                 /* dmult */
    acc += (uint64_t)a32 * b32;                                                 /* 32x32->64 */
    acc += (uint64_t)(int64_t)(int32_t)((uint32_t)sa32 * (uint32_t)sb32);       /* mul */
    acc += (uint64_t)(__builtin_clzll(b) + __builtin_clz(b32));                 /* dclz, clz */
    if ((i & 63) == 0) acc += gcd64(a, b);
    acc = (acc << 5 | acc >> 59) + a;
  }
  d->arith ^= acc;
}

/* Unaligned views of memory: GCC accesses these with lwl/lwr, ldl/ldr, swl/swr, sdl/sdr, or byte
 * by byte for halfwords. */
struct __attribute__((packed)) u16u {
  uint16_t v;
};
struct __attribute__((packed)) u32u {
  uint32_t v;
};
struct __attribute__((packed)) u64u {
  uint64_t v;
};

static void k_mix(struct digest *d, uint64_t round) {
  uint64_t acc = round;
  for (size_t off = 0; off + 16 <= DATA_BYTES; off += 3) {
    const uint8_t *p = g_data + off;
    uint64_t x = ((const struct u64u *)(p + 1))->v;
    uint32_t y = ((const struct u32u *)(p + 3))->v;
    uint16_t z = ((const struct u16u *)(p + 5))->v;
    int8_t sb = (int8_t)p[(off >> 3) & 7];                  /* lb: sign-extended byte */
    int16_t sh = ((const int16_t *)g_data)[(off >> 1) + 3]; /* lh at offsets 6 mod 8, etc. */
    acc = (acc ^ x) * 0x9e3779b97f4a7c15ull + y + z + (uint64_t)(int64_t)sb + (uint64_t)(int64_t)sh;
    uint8_t *q = g_mix_out + off;
    ((struct u64u *)(q + 3))->v = acc;
    ((struct u32u *)(q + 1))->v = (uint32_t)(acc >> 17);
    ((struct u16u *)(q + 9))->v = (uint16_t)(acc >> 40);
    ((uint16_t *)g_mix_out)[(off >> 1) + 5] ^= (uint16_t)x; /* aligned sh/lhu */
    q[11] = (uint8_t)y;
  }
  uint64_t h = 0;
  for (size_t i = 0; i + 8 <= DATA_BYTES; i += 5)
    h = h * 33 + ((const struct u64u *)(g_mix_out + i))->v;
  d->mix ^= acc ^ h;
}

/* A tiny stack machine (a hot switch = a jump table and indirect jumps). */
enum { OP_PUSH, OP_ADD, OP_MUL, OP_XOR, OP_DUP, OP_SWAP, OP_SHR, OP_DROP, OP_JNZ, OP_DEC, OP_END };

static uint64_t run_bytecode(const uint8_t *code, uint64_t seed) {
  uint64_t st[16];
  int sp = 0;
  size_t pc = 0;
  st[sp++] = seed;
  st[sp++] = BYTECODE_N;
  for (;;) {
    uint8_t op = code[pc++];
    switch (op) {
      case OP_PUSH:
        st[sp++] = code[pc++];
        break;
      case OP_ADD:
        sp--;
        st[sp - 1] += st[sp];
        break;
      case OP_MUL:
        sp--;
        st[sp - 1] *= st[sp];
        break;
      case OP_XOR:
        sp--;
        st[sp - 1] ^= st[sp];
        break;
      case OP_DUP:
        st[sp] = st[sp - 1];
        sp++;
        break;
      case OP_SWAP: {
        uint64_t t = st[sp - 1];
        st[sp - 1] = st[sp - 2];
        st[sp - 2] = t;
        break;
      }
      case OP_SHR:
        sp--;
        st[sp - 1] >>= st[sp] & 63;
        break;
      case OP_DROP:
        sp--;
        break;
      case OP_JNZ: /* pops the target; jumps if the top is non-zero */
        sp--;
        if (st[sp - 1]) pc = (size_t)st[sp];
        break;
      case OP_DEC:
        st[sp - 1]--;
        break;
      default: /* OP_END */
        return st[0] ^ (uint64_t)sp;
    }
  }
}

static void k_bytecode(struct digest *d, uint64_t round) {
  /* stack: [x, n]; loop: x = ((x * 37) ^ (x >> 7)) + 11; n-- until n == 0. */
  static const uint8_t kProgram[] = {
      /* 0 */ OP_SWAP,                           /* [n, x] */
      /* 1 */ OP_DUP,   OP_PUSH, 37,     OP_MUL, /* [n, x, 37x] */
      /* 5 */ OP_SWAP,  OP_PUSH, 7,      OP_SHR, /* [n, 37x, x>>7] */
      /* 9 */ OP_XOR,   OP_PUSH, 11,     OP_ADD, /* [n, x'] */
      /* 13 */ OP_SWAP, OP_DEC,                  /* [x', n-1] */
      /* 15 */ OP_PUSH, 0,       OP_JNZ,         /* loop while n != 0 */
      /* 18 */ OP_END};
  d->vm = d->vm * 3 + run_bytecode(kProgram, d->vm ^ round);
}

typedef void (*kernel_fn)(struct digest *, uint64_t);

static const kernel_fn kKernels[] = {k_sha256, k_fnv, k_sort, k_sieve, k_arith, k_mix, k_bytecode};

int main(void) {
  g_sort = sys_mmap_anon(SORT_N * sizeof(uint32_t));
  g_sort_tmp = sys_mmap_anon(SORT_N * sizeof(uint32_t));
  struct line l = {.len = 0};
  if (!g_sort || !g_sort_tmp) {
    line_str(&l, "cannonball default guest: mmap failed\n");
    line_flush(&l);
    return 1;
  }

  struct digest d;
  memset(&d, 0, sizeof d);
  for (uint64_t round = 0; round < ROUNDS; round++) {
    fill_data(round);
    for (size_t k = 0; k < sizeof kKernels / sizeof kKernels[0]; k++) kKernels[k](&d, round);
  }

  uint64_t sum = d.fnv ^ d.sort_sum ^ d.arith ^ d.mix ^ d.vm;
  line_str(&l, "cannonball default guest: rounds=");
  line_dec(&l, ROUNDS);
  line_str(&l, " sha256=");
  line_bytes_hex(&l, d.sha, 8);
  line_str(&l, " primes=");
  line_hex(&l, d.primes, 16);
  line_str(&l, " sum=");
  line_hex(&l, sum, 16);
  line_str(&l, "\n");
  line_flush(&l);
  return 0;
}
