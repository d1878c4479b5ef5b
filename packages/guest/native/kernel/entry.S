/*
 * Kernel entry points: the boot entry (every vCPU arrives here, boot protocol §entry), the
 * interrupt/exception stubs, the SYSCALL entry and the context switch.
 */
#define BOOT_STACK_SIZE 16384
#define MAX_CPUS 8

	.section .text.boot, "ax"
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	/* RDI = this vCPU's boot-info block; its cpu_id (offset 0x14) selects a boot stack. */
	movl 0x14(%rdi), %eax
	cmpl $MAX_CPUS, %eax
	jae 1f
	leaq boot_stacks(%rip), %rsp
	incq %rax
	shlq $14, %rax            /* (cpu_id + 1) * BOOT_STACK_SIZE */
	addq %rax, %rsp
	xorl %ebp, %ebp
	call kmain
1:	hlt
	jmp 1b
	.size _start, . - _start

	.text
/* Reload CS and SS after LGDT with an IRETQ to the next instruction (SDM Vol. 3A §6.14.3). */
	.globl reload_segments
reload_segments:
	movq %rsp, %rax
	pushq $0x18               /* SS */
	pushq %rax                /* RSP */
	pushfq
	pushq $0x10               /* CS */
	leaq 1f(%rip), %rax
	pushq %rax
	iretq
1:	ret

/* swtch(save_sp, load_sp): save callee-saved registers on this stack, switch to the other. */
	.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

#define PUSH_GPRS \
	pushq %rax; pushq %rbx; pushq %rcx; pushq %rdx; pushq %rsi; pushq %rdi; pushq %rbp; \
	pushq %r8; pushq %r9; pushq %r10; pushq %r11; pushq %r12; pushq %r13; pushq %r14; pushq %r15
#define POP_GPRS \
	popq %r15; popq %r14; popq %r13; popq %r12; popq %r11; popq %r10; popq %r9; popq %r8; \
	popq %rbp; popq %rdi; popq %rsi; popq %rdx; popq %rcx; popq %rbx; popq %rax

/* Exceptions 8, 10-14, 17, 21, 29, 30 push an error code (SDM Vol. 3A §6.15); others get a 0. */
.macro ISR vec
	.align 16
isr_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp interrupt_common
.endm

	.altmacro
.macro ISRS from, to
	ISR \from
	.if \to-\from
	ISRS %(\from+1), \to
	.endif
.endm
	ISRS 0, 63
	ISRS 64, 127
	ISRS 128, 191
	ISRS 192, 255

interrupt_common:
	testb $3, 24(%rsp)        /* CS of the interrupted context: from user mode? */
	jz 1f
	swapgs
1:	PUSH_GPRS
	movq %rsp, %rdi
	call trap_handler
	.globl trap_return
trap_return:
	POP_GPRS
	testb $3, 24(%rsp)
	jz 2f
	swapgs
2:	addq $16, %rsp            /* vector and error code */
	iretq

/* A new process starts here: its stack holds a trapframe above this return address. */
	.globl fork_return
fork_return:
	call proc_first_run
	jmp trap_return

/*
 * SYSCALL entry (SDM Vol. 2B SYSCALL): RCX = user RIP, R11 = user RFLAGS, IF already cleared by
 * SFMASK. Build a trapframe on the process's kernel stack so fork can copy it.
 */
	.globl syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:16
	movq %gs:8, %rsp
	pushq $0x2b               /* SS */
	pushq %gs:16              /* RSP */
	pushq %r11                /* RFLAGS */
	pushq $0x33               /* CS */
	pushq %rcx                /* RIP */
	pushq $0                  /* error */
	pushq $256                /* vector: 256 marks a system call */
	PUSH_GPRS
	movq %rsp, %rdi
	call syscall_handler
	POP_GPRS
	addq $16, %rsp
	popq %rcx                 /* RIP */
	addq $8, %rsp             /* CS */
	popq %r11                 /* RFLAGS */
	andq $~0x3000, %r11       /* never return with IOPL raised */
	orq $0x200, %r11          /* user mode always runs with interrupts on */
	popq %rsp                 /* user RSP (the SS slot is dropped with the stack) */
	swapgs
	sysretq

	.globl isr_table
	.section .rodata
	.align 8
isr_table:
.macro ISRADDR vec
	.quad isr_\vec
.endm
.macro ISRADDRS from, to
	ISRADDR \from
	.if \to-\from
	ISRADDRS %(\from+1), \to
	.endif
.endm
	ISRADDRS 0, 63
	ISRADDRS 64, 127
	ISRADDRS 128, 191
	ISRADDRS 192, 255

	.bss
	.align 4096
	.globl boot_stacks
boot_stacks:
	.space BOOT_STACK_SIZE * MAX_CPUS

	.section .note.GNU-stack, "", @progbits
