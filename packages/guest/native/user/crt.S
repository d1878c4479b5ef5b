/* User entry: the kernel starts the first process here with RDI = command line, RSI = length
   and RSP 16-byte aligned. */
	.text
	.globl _ustart
_ustart:
	xorl %ebp, %ebp
	call umain
	movq %rax, %rdi
	movl $1, %eax             /* SYS_EXIT */
	syscall
1:	jmp 1b

	.section .note.GNU-stack, "", @progbits
