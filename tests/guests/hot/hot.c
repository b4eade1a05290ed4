/* hot.c - a guest with a known hot function, for `cannonball profile`'s tests.
 *
 * main calls hot_loop (most of the steps: a tight loop that also calls the small leaf mix()
 * every iteration, so calls and returns happen inside compiled code) and cold() once; the
 * profile must put almost all steps in hot_loop and mix, under the stack _start;main;... */
#include "../common/sys.h"

__attribute__((noinline)) static unsigned long mix(unsigned long x) {
  x ^= x >> 7;
  return x * 0x9e3779b1UL + 1;
}

__attribute__((noinline)) static unsigned long hot_loop(unsigned long n) {
  unsigned long acc = 1;
  for (unsigned long i = 0; i < n; ++i) {
    acc += i * 3;
    if ((i & 7) == 0) acc = mix(acc);
  }
  return acc;
}

__attribute__((noinline)) static unsigned long cold(unsigned long x) { return x + 42; }

int main(void) {
  unsigned long r = hot_loop(200000);
  r = cold(r);
  sys_write(FD_STDOUT, (r & 1) ? "odd\n" : "even\n", (r & 1) ? 4 : 5);
  return 0;
}
