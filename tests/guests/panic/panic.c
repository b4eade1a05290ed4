/* panic.c - prints one line, then executes an instruction the VM does not support.
 *
 * The word 0x46000000 is the COP1 instruction add.s $f0, $f0, $f0: the VM has no FPU, so the
 * step must fail the way the reference does (its Go code panics with
 * "invalid instruction: 46000000"). The instruction sits alone in the function
 * invalid_instruction so that the error report can name it. If a VM wrongly executes past it,
 * the guest exits with status 99.
 */
#include "../common/sys.h"

void invalid_instruction(void);
__asm__(
    "        .text\n"
    "        .globl  invalid_instruction\n"
    "        .type   invalid_instruction, @function\n"
    "        .set    push\n"
    "        .set    noreorder\n"
    "invalid_instruction:\n"
    "        .word   0x46000000\n"
    "        jr      $31\n"
    "        nop\n"
    "        .set    pop\n"
    "        .size   invalid_instruction, . - invalid_instruction\n");

int main(void) {
  static const char kMsg[] = "panic guest: executing an invalid instruction\n";
  sys_write(FD_STDOUT, kMsg, sizeof kMsg - 1);
  invalid_instruction();
  return 99;
}
