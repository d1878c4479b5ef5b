# String I/O against a memory-mapped device and into a guest page table (loaded at 0x100000).
# MMIO device: guest-physical 0x8000000, mapped with a 2 MiB PDE (PD entry 64).
# Port 0x500: the counting test device; port 0x520: returns the dwords 0x00301003, 0 (a PTE).
        .intel_syntax noprefix
        .code64
        .text
start:
        mov     rsp, 0x170000
        mov     rax, 0x08000083
        mov     [0x3200], rax
        # 1. rep outsb: four device registers to the test port
        mov     esi, 0x08000010
        mov     ecx, 4
        mov     edx, 0x500
        rep outsb
        # 2. rep insw: three words from the test port into device registers
        mov     edi, 0x08000020
        mov     ecx, 3
        rep insw
        # 3. a 4 KiB page table for 0x400000 at 0x180000: entry 0 present, then used
        mov     rax, 0x300003
        mov     [0x180000], rax
        mov     rax, 0x180003
        mov     [0x3010], rax
        mov     byte ptr [0x400000], 0x11
        # 4. rep insd writes entry 1 (0x401000 -> 0x301000) from port 0x520
        mov     edi, 0x180008
        mov     ecx, 2
        mov     edx, 0x520
        rep insd
        mov     byte ptr [0x401000], 0x5a
        xor     eax, eax
        out     0xf4, al
