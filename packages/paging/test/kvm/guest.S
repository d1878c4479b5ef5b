/*
 * Guest for the paging differential test (test/kvm.test.ts builds the image around it).
 * For each case in the case table it writes the test PDE and PTE itself (KVM here shadows the
 * guest page tables, so the guest must store its own entries), loads EFER, CR4 and CR0, flushes
 * with MOV CR3 and INVLPG, performs one access at CPL 0 or CPL 3, and records the outcome (success,
 * or the exception vector, error code and CR2) and the PDE and PTE as they are afterwards.
 *
 * Fixed addresses shared with the test: see kvm.test.ts.
 */
  .set CASES, 0x600000
  .set RESULTS, 0x700000
  .set KSTACK, 0x510000
  .set USTACK, 0x3ff000
  .set USTUB, 0x200000
  .set PDE_ADDR, 0x5000
  .set PTE_ADDR, 0x6000
  .set CASE_SIZE, 80
  .set RESULT_SIZE, 48

  .code64
  .text
  .globl _start
_start:
  jmp start
  .balign 8
handlers:
  .quad v0
  .quad v1
  .quad v2
  .quad v3
  .quad v4
  .quad v5
  .quad v6
  .quad v7
  .quad v8
  .quad v9
  .quad v10
  .quad v11
  .quad v12
  .quad v13
  .quad v14
  .quad v15
  .quad v16
  .quad v17
  .quad v18
  .quad v19
  .quad v20
  .quad v21
  .quad v22
  .quad v23
  .quad v24
  .quad v25
  .quad v26
  .quad v27
  .quad v28
  .quad v29
  .quad v30
  .quad v31
  .quad ustub
  .quad ustub_end

start:
  mov $KSTACK, %rsp
  mov $CASES, %r12
  mov (%r12), %r13
  add $8, %r12
  mov $RESULTS, %r14
  xor %r15, %r15
next_case:
  cmp %r13, %r15
  jae done
  mov 0(%r12), %rax
  mov %rax, PDE_ADDR
  mov 8(%r12), %rax
  mov %rax, PTE_ADDR
  mov 32(%r12), %rax
  mov %rax, %rdx
  shr $32, %rdx
  mov $0xc0000080, %ecx
  wrmsr
  mov 24(%r12), %rax
  mov %rax, %cr4
  mov 16(%r12), %rax
  mov %rax, %cr0
  mov %cr3, %rax
  mov %rax, %cr3
  mov 64(%r12), %rdi
  invlpg (%rdi)
  mov 48(%r12), %rsi
  cmpq $3, 56(%r12)
  je user
  pushq 40(%r12)
  popfq
  cmp $0, %rsi
  je k_read
  cmp $1, %rsi
  je k_write
  call *%rdi
  jmp success
k_read:
  mov (%rdi), %rax
  jmp success
k_write:
  mov %rax, (%rdi)
  jmp success
user:
  pushq $0x1b
  pushq $USTACK
  pushq 40(%r12)
  pushq $0x23
  pushq $USTUB
  iretq

success:
  movq $0x100, 0(%r14)
  movq $0, 8(%r14)
  movq $0, 16(%r14)
  jmp record
common:
  pop %rax
  pop %rbx
  mov %rax, 0(%r14)
  mov %rbx, 8(%r14)
  mov %cr2, %rcx
  mov %rcx, 16(%r14)
record:
  mov $KSTACK, %rsp
  pushq $2
  popfq
  mov PDE_ADDR, %rax
  mov %rax, 24(%r14)
  mov PTE_ADDR, %rax
  mov %rax, 32(%r14)
  add $CASE_SIZE, %r12
  add $RESULT_SIZE, %r14
  inc %r15
  jmp next_case
done:
  hlt
  jmp done

v0:
  pushq $0
  pushq $0
  jmp common
v1:
  pushq $0
  pushq $1
  jmp common
v2:
  pushq $0
  pushq $2
  jmp common
v3:
  pushq $0
  pushq $3
  jmp common
v4:
  pushq $0
  pushq $4
  jmp common
v5:
  pushq $0
  pushq $5
  jmp common
v6:
  pushq $0
  pushq $6
  jmp common
v7:
  pushq $0
  pushq $7
  jmp common
v8:
  pushq $8
  jmp common
v9:
  pushq $0
  pushq $9
  jmp common
v10:
  pushq $10
  jmp common
v11:
  pushq $11
  jmp common
v12:
  pushq $12
  jmp common
v13:
  pushq $13
  jmp common
v14:
  pushq $14
  jmp common
v15:
  pushq $0
  pushq $15
  jmp common
v16:
  pushq $0
  pushq $16
  jmp common
v17:
  pushq $17
  jmp common
v18:
  pushq $0
  pushq $18
  jmp common
v19:
  pushq $0
  pushq $19
  jmp common
v20:
  pushq $0
  pushq $20
  jmp common
v21:
  pushq $21
  jmp common
v22:
  pushq $0
  pushq $22
  jmp common
v23:
  pushq $0
  pushq $23
  jmp common
v24:
  pushq $0
  pushq $24
  jmp common
v25:
  pushq $0
  pushq $25
  jmp common
v26:
  pushq $0
  pushq $26
  jmp common
v27:
  pushq $0
  pushq $27
  jmp common
v28:
  pushq $0
  pushq $28
  jmp common
v29:
  pushq $0
  pushq $29
  jmp common
v30:
  pushq $0
  pushq $30
  jmp common
v31:
  pushq $0
  pushq $31
  jmp common

/* Copied to USTUB (a user page) by the test: the CPL-3 side of an access. It returns to
 * CPL 0 with INT3 (vector 3, a DPL-3 gate), which the test counts as success. */
ustub:
  cmp $0, %rsi
  je 1f
  cmp $1, %rsi
  je 2f
  jmp *%rdi
1:
  mov (%rdi), %rax
  int3
2:
  mov %rax, (%rdi)
  int3
ustub_end:
