/* start.S - entry point of every bundled guest.
 *
 * The loader (the reference's program/patch.go PatchStack) starts the only thread at the ELF
 * entry with every register zero except $sp = 0x7fff_ffff_f000, which points at a Linux-style
 * initial stack: argc (= 1), argv[0], NULL, envp[0], NULL, auxv pairs, as 8-byte big-endian
 * words. $sp is 16-byte aligned as the n64 ABI requires, and main's frame grows below it, so
 * the argument block is never overwritten. Code is built -mno-abicalls -fno-pic -G0, so
 * neither $gp nor $t9 needs setting up.
 *
 * _start calls main(argc, argv, envp) and passes its return value to exit_group.
 */
#include "sys.h"

        .set    noreorder
        .text
        .globl  _start
        .type   _start, @function
        .ent    _start
_start:
        ld      $4, 0($29)              /* a0 = argc */
        daddiu  $5, $29, 8              /* a1 = argv */
        dsll    $6, $4, 3
        daddu   $6, $6, $5
        jal     main
        daddiu  $6, $6, 8               /* (delay slot) a2 = envp = argv + 8 * (argc + 1) */
        move    $4, $2                  /* exit_group(main's return value) */
        li      $2, SYS_exit_group
        syscall
1:      b       1b                      /* exit_group does not return */
        nop
        .end    _start
        .size   _start, . - _start

        .section .note.GNU-stack, "", @progbits   /* the stack is not executable */
