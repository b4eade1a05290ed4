/* sys.h - the tiny runtime shared by the bundled guests (no libc).
 *
 * Guests run on the Cannon MT64 VM (state version multithreaded64-5): MIPS64 big-endian, n64
 * ABI, Linux n64 syscall numbers. A syscall takes its number in $v0 ($2) and its arguments in
 * $a0..$a3 ($4..$7); it returns the result in $v0 and an error flag in $a3 (the VM writes
 * all-ones there on error, Linux writes 1; both are "non-zero means $v0 is an errno").
 * The VM only writes $v0 and $a3; Linux also clobbers the temporaries, so the wrappers below
 * declare the Linux clobbers and the guests stay runnable on a real MIPS64 Linux too.
 *
 * This header is included by start.S as well, so only the syscall numbers are visible to the
 * assembler.
 */
#ifndef CANNONBALL_GUESTS_SYS_H
#define CANNONBALL_GUESTS_SYS_H

/* Syscall numbers (arch/mips/kernel/syscalls/syscall_n64.tbl; the reference's arch64.go). */
#define SYS_read 5000
#define SYS_write 5001
#define SYS_mmap 5009
#define SYS_brk 5012
#define SYS_clone 5055
#define SYS_exit 5058
#define SYS_gettid 5178
#define SYS_futex 5194
#define SYS_exit_group 5205
#define SYS_getrandom 5313

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

#define FD_STDOUT 1

/* Raw syscall with up to four arguments. Returns the result, or -errno on error. */
static inline long sys_call4(long nr, long arg0, long arg1, long arg2, long arg3) {
  register long v0 __asm__("$2") = nr;
  register long a0 __asm__("$4") = arg0;
  register long a1 __asm__("$5") = arg1;
  register long a2 __asm__("$6") = arg2;
  register long a3 __asm__("$7") = arg3;
  __asm__ volatile("syscall"
                   : "+r"(v0), "+r"(a3)
                   : "r"(a0), "r"(a1), "r"(a2)
                   : "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$24", "$25",
                     "hi", "lo", "memory");
  return a3 != 0 ? -v0 : v0;
}

static inline long sys_write(int fd, const void *buf, size_t len) {
  return sys_call4(SYS_write, fd, (long)buf, (long)len, 0);
}

static inline __attribute__((noreturn)) void sys_exit_group(int code) {
  sys_call4(SYS_exit_group, code, 0, 0, 0);
  for (;;) {
  }
}

/* Anonymous memory. The VM ignores prot/flags/fd (only addr == 0 and len matter) and hands out
 * pages from its heap at 0x1000_0000_0000 upwards; on Linux the flags below make it an ordinary
 * private anonymous mapping. Returns NULL on failure. */
static inline void *sys_mmap_anon(size_t len) {
  /* mmap(addr, len, prot, flags, fd, off) has six arguments; on n64 fd and off go in $8/$9. */
  register long v0 __asm__("$2") = SYS_mmap;
  register long a0 __asm__("$4") = 0;
  register long a1 __asm__("$5") = (long)len;
  register long a2 __asm__("$6") = 0x3;   /* PROT_READ | PROT_WRITE */
  register long a3 __asm__("$7") = 0x802; /* MAP_PRIVATE | MAP_ANONYMOUS (MIPS values) */
  register long a4 __asm__("$8") = -1;
  register long a5 __asm__("$9") = 0;
  __asm__ volatile("syscall"
                   : "+r"(v0), "+r"(a3), "+r"(a4), "+r"(a5)
                   : "r"(a0), "r"(a1), "r"(a2)
                   : "$1", "$3", "$10", "$11", "$12", "$13", "$14", "$15", "$24", "$25", "hi", "lo",
                     "memory");
  return a3 != 0 ? NULL : (void *)v0;
}

/* A line of output, collected and then written with a single write(1, ...). */
struct line {
  char buf[256];
  size_t len;
};

void line_str(struct line *l, const char *s);
void line_hex(struct line *l, uint64_t v, int digits); /* lower-case, zero-padded */
void line_dec(struct line *l, uint64_t v);
void line_bytes_hex(struct line *l, const uint8_t *p, size_t n);
void line_flush(struct line *l); /* appends nothing; writes and empties the line */

/* Freestanding GCC may still emit calls to these for copies and clears, so they exist. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif /* __ASSEMBLER__ */
#endif /* CANNONBALL_GUESTS_SYS_H */
