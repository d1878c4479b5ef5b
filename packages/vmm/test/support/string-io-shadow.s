# An interrupt pending when STI's shadow covers a REP INSB (loaded at 0x100000): the interrupt
# is taken after the first element (SDM Vol. 3A §6.8.3: STI's blocking covers the next
# instruction; a REP string instruction is interruptible between elements), and the handler
# ends the run with status = RCX, the elements left.
        .intel_syntax noprefix
        .code64
        .text
start:
        mov     rsp, 0x170000
        lea     rax, [rip + gdt]
        mov     [rip + gdtr + 2], rax
        lgdt    [rip + gdtr]
        lea     rax, [rip + handler]
        lea     rbx, [rip + idt + 0x40 * 16]
        mov     [rbx], ax
        mov     word ptr [rbx + 2], 0x10
        mov     word ptr [rbx + 4], 0x8e00
        shr     rax, 16
        mov     [rbx + 6], ax
        shr     rax, 16
        mov     [rbx + 8], eax
        lea     rax, [rip + idt]
        mov     [rip + idtr + 2], rax
        lidt    [rip + idtr]
        mov     edi, 0x200000
        mov     ecx, 100
        mov     edx, 0x500
        sti
        rep insb
        mov     eax, 0xff
        out     0xf4, eax
handler:
        mov     eax, ecx
        out     0xf4, eax
        hlt
        .balign 16
gdt:    .quad   0, 0, 0x00209a0000000000, 0x0000920000000000
gdtr:   .word   31
        .quad   0
        .balign 16
idtr:   .word   0x41 * 16 - 1
        .quad   0
        .balign 16
idt:    .fill   0x41 * 16, 1, 0
