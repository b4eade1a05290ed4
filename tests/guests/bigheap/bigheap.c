/* bigheap.c - builds a heap whose size and contents are chosen at run time, for measuring
 * memory handling at op-program scale (issue 9).
 *
 * The configuration comes from the pre-image oracle, as op-program's inputs do: the guest asks
 * for the local key 0x01 00..00 "bigheap\0" (key type 1, the last 8 bytes the ASCII name) and
 * expects a 32-byte value of four big-endian 64-bit words:
 *   random  bytes filled with xorshift64 output, every 8-byte word (incompressible)
 *   light   bytes of which one word per KiB is written (every page touched, low entropy)
 *   seed    the PRNG seed
 *   magic   0x6269676865617031 ("bigheap1"), so a wrong value is noticed
 * tests/guests/bigheap/bigheap_server.py serves it. Both sizes are multiples of 4 KiB. The
 * random region comes first, then the light one, each mmap'd in chunks of at most 64 MiB (the
 * VM's mmap hands out consecutive heap pages from 0x1000_0000_0000, so they are contiguous).
 *
 * Random fill: x = seed * 0x9e3779b97f4a7c15 + 0x2545f4914f6cdd1d (1 if that is 0), then for
 * every word w[i] of the random region in address order: x ^= x << 13; x ^= x >> 7;
 * x ^= x << 17; w[i] = x. About 7.4 instructions per word (8 words per loop iteration).
 * Light fill: the first word of every KiB k (0-based over the light region) is set to k + 1.
 *
 * At the end it reads back the first word of every KiB of both regions (random first) and folds
 * each into h (starting at 0xcbf29ce484222325): h = (h ^ w) * 0x100000001b3; then h ^= x (the
 * final PRNG state). It prints
 *   bigheap: random=R light=L seed=S checksum=<16 hex digits>
 * and exits 0. A bad configuration prints "bigheap: ..." and exits 1; the VM's mmap failing
 * exits 2.
 */
#include "../common/sys.h"

#define FD_PREIMAGE_READ 5
#define FD_PREIMAGE_WRITE 6

#define CONFIG_MAGIC 0x6269676865617031ull /* "bigheap1" */
#define CHUNK_BYTES (64ull << 20)
#define MAX_CHUNKS 4096 /* 256 GiB: far more than any machine here holds */
#define KIB_WORDS (1024 / 8)

struct chunk {
  uint64_t *base;
  uint64_t bytes;
};

static struct chunk g_chunks[MAX_CHUNKS];
static size_t g_chunk_count;

static void fail(const char *what, int code) {
  struct line l = {.len = 0};
  line_str(&l, "bigheap: ");
  line_str(&l, what);
  line_str(&l, "\n");
  line_flush(&l);
  sys_exit_group(code);
}

/* The VM takes a pre-image key 8 aligned bytes per write and returns at most 8 aligned bytes per
 * read, so both loops go word by word. */
static void preimage_request(const uint8_t key[32]) {
  for (size_t done = 0; done < 32;) {
    long n = sys_call4(SYS_write, FD_PREIMAGE_WRITE, (long)(key + done), (long)(32 - done), 0);
    if (n <= 0) fail("pre-image key write failed", 1);
    done += (size_t)n;
  }
}

static void preimage_read(void *buf, size_t len) {
  uint8_t *p = buf;
  for (size_t done = 0; done < len;) {
    long n = sys_call4(SYS_read, FD_PREIMAGE_READ, (long)(p + done), (long)(len - done), 0);
    if (n <= 0) fail("pre-image read failed (is bigheap_server.py running after '--'?)", 1);
    done += (size_t)n;
  }
}

static uint64_t load_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void *map_chunk(uint64_t bytes) {
  if (g_chunk_count == MAX_CHUNKS) fail("too many chunks", 1);
  void *p = sys_mmap_anon(bytes);
  if (!p) fail("mmap failed", 2);
  g_chunks[g_chunk_count].base = p;
  g_chunks[g_chunk_count].bytes = bytes;
  g_chunk_count++;
  return p;
}

/* Every word of [p, p + words) from the xorshift64 stream; words is a multiple of 8. */
static uint64_t fill_random(uint64_t *p, uint64_t words, uint64_t x) {
  uint64_t *end = p + words;
  while (p != end) {
#define STEP(i)  \
  x ^= x << 13;  \
  x ^= x >> 7;   \
  x ^= x << 17;  \
  p[i] = x;
    STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
#undef STEP
    p += 8;
  }
  return x;
}

/* The first word of every KiB of [p, p + bytes) set to k + 1, k counting KiB from `first`. */
static uint64_t fill_light(uint64_t *p, uint64_t bytes, uint64_t first) {
  uint64_t *end = p + bytes / 8;
  uint64_t k = first + 1;
  for (; p != end; p += KIB_WORDS) *p = k++;
  return k - 1;
}

int main(void) {
  uint8_t key[32] __attribute__((aligned(8)));
  static const char kName[8] = {'b', 'i', 'g', 'h', 'e', 'a', 'p', 0};
  memset(key, 0, sizeof key);
  key[0] = 1; /* local key */
  memcpy(key + 24, kName, 8);
  preimage_request(key);

  uint8_t head[8] __attribute__((aligned(8)));
  uint8_t cfg[32] __attribute__((aligned(8)));
  preimage_read(head, sizeof head);
  if (load_be64(head) != sizeof cfg) fail("configuration pre-image is not 32 bytes", 1);
  preimage_read(cfg, sizeof cfg);
  uint64_t random_bytes = load_be64(cfg), light_bytes = load_be64(cfg + 8);
  uint64_t seed = load_be64(cfg + 16);
  if (load_be64(cfg + 24) != CONFIG_MAGIC) fail("configuration magic mismatch", 1);
  if ((random_bytes | light_bytes) & 0xfff) fail("sizes must be multiples of 4096", 1);
  if (random_bytes > (1ull << 40) || light_bytes > (1ull << 40)) fail("size over 1 TiB", 1);

  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
  if (x == 0) x = 1;
  for (uint64_t left = random_bytes; left;) {
    uint64_t n = left < CHUNK_BYTES ? left : CHUNK_BYTES;
    x = fill_random(map_chunk(n), n / 8, x);
    left -= n;
  }
  uint64_t kib = 0;
  for (uint64_t left = light_bytes; left;) {
    uint64_t n = left < CHUNK_BYTES ? left : CHUNK_BYTES;
    kib = fill_light(map_chunk(n), n, kib);
    left -= n;
  }

  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t c = 0; c < g_chunk_count; c++) {
    const uint64_t *p = g_chunks[c].base, *end = p + g_chunks[c].bytes / 8;
    for (; p != end; p += KIB_WORDS) h = (h ^ *p) * 0x100000001b3ull;
  }
  h ^= x;

  struct line l = {.len = 0};
  line_str(&l, "bigheap: random=");
  line_dec(&l, random_bytes);
  line_str(&l, " light=");
  line_dec(&l, light_bytes);
  line_str(&l, " seed=");
  line_dec(&l, seed);
  line_str(&l, " checksum=");
  line_hex(&l, h, 16);
  line_str(&l, "\n");
  line_flush(&l);
  return 0;
}
