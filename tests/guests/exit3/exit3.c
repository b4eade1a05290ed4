/* exit3.c - prints "bye" and exits with status 3 (main's return value goes to exit_group). */
#include "../common/sys.h"

int main(void) {
  sys_write(FD_STDOUT, "bye\n", 4);
  return 3;
}
