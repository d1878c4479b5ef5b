# String I/O test guest for @vmkit/vmm (loaded and entered at 0x100000, CPL 0, IF = 0, the
# boot protocol's identity map of RAM with 2 MiB pages: PML4 0x1000, PDPT 0x2000, PD 0x3000).
# Test device: ports 0x500-0x503 (reads return the next bytes of 1, 2, 3, ...; writes logged).
# Sum device: ports 0x510-0x513 (counts and sums what it is sent).
# Buffers: 0x200000 (RAM, 2 MiB page); 0x400000-0x5fffff through a 4 KiB page table at 0x180000
# whose entry 1 (0x401000) starts not present: the #PF handler maps it to 0x301000.
        .intel_syntax noprefix
        .code64
        .text
start:
        mov     rsp, 0x170000
        lea     rax, [rip + gdt]
        mov     [rip + gdtr + 2], rax
        lgdt    [rip + gdtr]
        lea     rax, [rip + pf_handler]
        lea     rbx, [rip + idt + 14 * 16]
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
        # The page table for 0x400000: entries 0 and 2 present, 1 and 3 not.
        mov     rax, 0x300003
        mov     [0x180000], rax
        mov     rax, 0x302003
        mov     [0x180010], rax
        mov     rax, 0x180003
        mov     [0x3010], rax
        # 1. rep outsb: "hello\n" to the UART
        lea     rsi, [rip + msg]
        mov     ecx, 6
        mov     edx, 0x3f8
        rep outsb
        # 2. rep outsw: three words to the test device
        lea     rsi, [rip + words]
        mov     ecx, 3
        mov     edx, 0x500
        rep outsw
        # 3. DF = 1: rep outsd, two dwords from the last one down
        lea     rsi, [rip + dwords + 4]
        mov     ecx, 2
        std
        rep outsd
        cld
        # 4. rep insb (4), rep insw (3), insd (1) into 0x200000
        mov     edi, 0x200000
        mov     ecx, 4
        rep insb
        mov     ecx, 3
        rep insw
        insd
        # 5. DF = 1: rep insb (3) from 0x200042 down
        mov     edi, 0x200042
        mov     ecx, 3
        std
        rep insb
        cld
        # 6. 32-bit address size: EDI and ECX; the upper halves are cleared
        mov     rdi, 0xdeadbeef00200080
        mov     rcx, 0x1234567800000002
        addr32 rep insb
        # 7. rep insd across a 4 KiB boundary (the fourth dword straddles it)
        mov     edi, 0x200ff2
        mov     ecx, 5
        rep insd
        # 8. rep insw into a page that is not present: #PF, mapped, resumed
        mov     edi, 0x400ff0
        mov     ecx, 16
        rep insw
        # 9. rep outsb of 3000 bytes (three exits' worth) to the sum device
        lea     rsi, [rip + pattern]
        mov     ecx, 3000
        mov     edx, 0x510
        rep outsb
        # 10. rep insb with RCX = 2^64 - 1: two bytes, then a page the handler will not map
        mov     edx, 0x500
        mov     rdi, 0x402ffe
        mov     rcx, -1
        rep insb
        hlt                             # not reached

pf_handler:
        push    rax
        mov     rax, cr2
        mov     [rip + last_cr2], rax
        mov     rax, [rsp + 8]
        mov     [rip + last_error], rax
        inc     qword ptr [rip + faults]
        mov     rax, cr2
        cmp     rax, 0x401000
        jb      1f
        cmp     rax, 0x402000
        jae     1f
        mov     rax, 0x301003
        mov     [0x180008], rax
        mov     rax, cr2
        invlpg  [rax]
        pop     rax
        add     rsp, 8
        iretq
1:      mov     eax, 0x42
        out     0xf4, eax
        hlt

        .balign 16
gdt:    .quad   0, 0, 0x00209a0000000000, 0x0000920000000000
gdtr:   .word   31
        .quad   0
        .balign 16
idtr:   .word   15 * 16 - 1
        .quad   0
        .balign 16
idt:    .fill   15 * 16, 1, 0
msg:    .ascii  "hello\n"
words:  .word   0x1234, 0x5678, 0x9abc
dwords: .long   0x11223344, 0x55667788
        .balign 8
faults:     .quad 0
last_cr2:   .quad 0
last_error: .quad 0
# 3000 bytes, byte i = (7 i) mod 256: appended by the test (string-io.test.ts)
pattern:
