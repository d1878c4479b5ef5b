/* Entry for the freestanding build: RDI holds the round count, RSP a stack set by the host.
 * The checksum comes back in RAX; HLT stops vmkit's run loop. */
    .section .text.start, "ax"
    .globl _start
_start:
    call workload
    hlt
1:  jmp 1b
    .section .note.GNU-stack, "", @progbits
