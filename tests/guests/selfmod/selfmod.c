/* selfmod.c - self-modifying code, to test that a JIT notices code changes.
 *
 * The guest writes MIPS64 instructions into buffers in its .bss (the VM has no W^X: memory is
 * flat and every instruction is fetched from it), calls them, rewrites them and calls again.
 * Every generated function is also evaluated in C, and the guest prints "ok" and exits 0 only
 * when all the results agree; a stale translation makes it print MISMATCH and exit 1.
 *
 *  1. whole-function rewrite: 512 different 4-instruction functions (the delay slot changes
 *     too), each called 64 times;
 *  2. one-word patch: a single instruction in the middle of a hot function is rewritten
 *     (a new immediate) 1024 times;
 *  3. in-block modification: the function's first instruction stores a new word over the very
 *     next instruction, which must then execute with its new value;
 *  4. false sharing: data next to hot code (same 4 KiB page, even the same 8-byte word) is
 *     written between calls, and the code must still run correctly; then a different hot
 *     function replaces it after thousands of calls.
 */
#include "../common/sys.h"

/* Registers of the n64 ABI used by the generated code. */
enum { R_ZERO = 0, R_V0 = 2, R_A0 = 4, R_A1 = 5, R_A2 = 6, R_RA = 31 };

/* Opcodes and SPECIAL/SPECIAL2 function codes (MIPS64 Release 1). */
enum {
  OP_SPECIAL = 0x00,
  OP_ADDIU = 0x09,
  OP_ANDI = 0x0c,
  OP_ORI = 0x0d,
  OP_XORI = 0x0e,
  OP_DADDIU = 0x19,
  OP_SPECIAL2 = 0x1c,
  OP_SW = 0x2b,
  FN_JR = 0x08,
  FN_DADDU = 0x2d,
  FN_DSUBU = 0x2f,
  FN_XOR = 0x26,
  FN_DSLL = 0x38,
  FN_DSRL = 0x3a,
  FN2_MUL = 0x02,
};

static uint32_t i_type(unsigned op, unsigned rs, unsigned rt, unsigned imm) {
  return op << 26 | rs << 21 | rt << 16 | (imm & 0xffff);
}

static uint32_t r_type(unsigned op, unsigned rs, unsigned rt, unsigned rd, unsigned sa,
                       unsigned fn) {
  return op << 26 | rs << 21 | rt << 16 | rd << 11 | sa << 6 | fn;
}

static const uint32_t kJrRa = (OP_SPECIAL << 26) | (R_RA << 21) | FN_JR;
static const uint32_t kNop = 0;

typedef uint64_t (*gen_fn)(uint64_t a0, uint64_t a1, uint64_t a2);

static uint32_t g_code[64] __attribute__((aligned(64)));

/* Phase 4: code and data in one page, the counter right after the last instruction. */
static struct {
  uint32_t code[5];
  uint32_t tick; /* shares an 8-byte word with code[4] */
  uint64_t counter;
} g_shared __attribute__((aligned(4096)));

static uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }
static uint64_t sext16(unsigned v) { return (uint64_t)(int64_t)(int16_t)(uint16_t)v; }

static void barrier(void) { __asm__ volatile("" ::: "memory"); }

static uint64_t call(const void *code, uint64_t a0, uint64_t a1, uint64_t a2) {
  barrier();
  gen_fn fn = (gen_fn)(uintptr_t)code;
  uint64_t r = fn(a0, a1, a2);
  barrier();
  return r;
}

/* One generated operation on v0: its encoding and its meaning. */
struct op {
  uint32_t insn;
  unsigned kind;
  unsigned imm;
};

static struct op make_op(unsigned kind, unsigned imm) {
  struct op o = {0, kind % 6, imm & 0xffff};
  switch (o.kind) {
    case 0:
      o.insn = i_type(OP_DADDIU, R_V0, R_V0, o.imm);
      break;
    case 1:
      o.insn = i_type(OP_XORI, R_V0, R_V0, o.imm);
      break;
    case 2:
      o.insn = r_type(OP_SPECIAL, 0, R_V0, R_V0, o.imm & 31, FN_DSLL);
      break;
    case 3:
      o.insn = r_type(OP_SPECIAL2, R_V0, R_A0, R_V0, 0, FN2_MUL);
      break;
    case 4:
      o.insn = i_type(OP_ADDIU, R_V0, R_V0, o.imm);
      break;
    default:
      o.insn = r_type(OP_SPECIAL, R_V0, R_A1, R_V0, 0, FN_DSUBU);
      break;
  }
  return o;
}

static uint64_t eval_op(struct op o, uint64_t v0, uint64_t a0, uint64_t a1) {
  switch (o.kind) {
    case 0:
      return v0 + sext16(o.imm);
    case 1:
      return v0 ^ o.imm;
    case 2:
      return v0 << (o.imm & 31);
    case 3:
      return sext32((uint32_t)v0 * (uint32_t)a0); /* mul: low 32 bits, sign-extended */
    case 4:
      return sext32((uint32_t)v0 + (uint32_t)sext16(o.imm));
    default:
      return v0 - a1;
  }
}

static uint64_t g_seed = 0x0123456789abcdefull;

static uint64_t next_rand(void) {
  g_seed ^= g_seed << 13;
  g_seed ^= g_seed >> 7;
  g_seed ^= g_seed << 17;
  return g_seed;
}

static int g_bad;
static uint64_t g_checksum;

static void check(uint64_t got, uint64_t want) {
  if (got != want) g_bad++;
  g_checksum = (g_checksum ^ got) * 0x100000001b3ull;
}

/* 1: function = [daddu v0, a0, zero; op1; jr ra; op2 (delay slot)], fully rewritten. */
static void phase_rewrite(void) {
  for (unsigned version = 0; version < 512; version++) {
    uint64_t r = next_rand();
    struct op o1 = make_op((unsigned)r, (unsigned)(r >> 8));
    struct op o2 = make_op((unsigned)(r >> 24), (unsigned)(r >> 32));
    g_code[0] = r_type(OP_SPECIAL, R_A0, R_ZERO, R_V0, 0, FN_DADDU);
    g_code[1] = o1.insn;
    g_code[2] = kJrRa;
    g_code[3] = o2.insn;
    for (unsigned i = 0; i < 64; i++) {
      uint64_t a0 = next_rand(), a1 = next_rand();
      uint64_t want = eval_op(o2, eval_op(o1, a0, a0, a1), a0, a1);
      check(call(g_code, a0, a1, 0), want);
    }
  }
}

/* 2: function = [ori v0, zero, K; daddu v0, v0, a0; jr ra; nop]; only K changes. */
static void phase_patch_one_word(void) {
  g_code[0] = i_type(OP_ORI, R_ZERO, R_V0, 0);
  g_code[1] = r_type(OP_SPECIAL, R_V0, R_A0, R_V0, 0, FN_DADDU);
  g_code[2] = kJrRa;
  g_code[3] = kNop;
  for (unsigned k = 0; k < 1024; k++) {
    unsigned imm = (k * 0x9e37u) & 0xffff;
    g_code[0] = i_type(OP_ORI, R_ZERO, R_V0, imm);
    for (unsigned i = 0; i < 16; i++) {
      uint64_t a0 = next_rand();
      check(call(g_code, a0, 0, 0), a0 + imm);
    }
  }
}

/* 3: function = [sw a1, 4(a2); <placeholder>; jr ra; nop]: the store replaces the next
 * instruction before it runs. a1 = the new instruction (it computes v0 from a0). */
static void phase_in_block(void) {
  g_code[0] = i_type(OP_SW, R_A2, R_A1, 4);
  g_code[1] = i_type(OP_ORI, R_ZERO, R_V0, 0xdead); /* never runs as written */
  g_code[2] = kJrRa;
  g_code[3] = kNop;
  for (unsigned i = 0; i < 4096; i++) {
    unsigned imm = (unsigned)next_rand() & 0xffff;
    uint32_t insn;
    uint64_t a0 = next_rand(), want;
    if (i & 1) {
      insn = i_type(OP_DADDIU, R_A0, R_V0, imm);
      want = a0 + sext16(imm);
    } else {
      insn = i_type(OP_XORI, R_A0, R_V0, imm);
      want = a0 ^ imm;
    }
    check(call(g_code, a0, insn, (uint64_t)(uintptr_t)g_code), want);
  }
}

/* 4: hot code whose page (and whose last 8-byte word) keeps being written as data. */
static void phase_false_sharing(void) {
  for (unsigned version = 0; version < 8; version++) {
    unsigned imm = 0x1111u * (version + 1);
    g_shared.code[0] = r_type(OP_SPECIAL, R_A0, R_ZERO, R_V0, 0, FN_DADDU);
    g_shared.code[1] = r_type(OP_SPECIAL, 0, R_V0, R_V0, version, FN_DSRL);
    g_shared.code[2] = i_type(OP_ANDI, R_V0, R_V0, imm);
    g_shared.code[3] = kJrRa;
    g_shared.code[4] = r_type(OP_SPECIAL, R_V0, R_A1, R_V0, 0, FN_XOR); /* delay slot */
    for (unsigned i = 0; i < 2000; i++) {
      uint64_t a0 = next_rand(), a1 = next_rand();
      g_shared.tick = i;
      g_shared.counter += a0;
      check(call(g_shared.code, a0, a1, 0), ((a0 >> version) & imm) ^ a1);
    }
  }
}

int main(void) {
  phase_rewrite();
  phase_patch_one_word();
  phase_in_block();
  phase_false_sharing();

  struct line l = {.len = 0};
  line_str(&l, g_bad ? "selfmod: MISMATCH (" : "selfmod: ok (");
  line_dec(&l, (uint64_t)g_bad);
  line_str(&l, " wrong) checksum=");
  line_hex(&l, g_checksum ^ g_shared.counter, 16);
  line_str(&l, "\n");
  line_flush(&l);
  return g_bad ? 1 : 0;
}
