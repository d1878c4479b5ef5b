# INS over guest code (loaded at 0x100000): a routine on its own page runs once, a REP INSB from
# port 0x530 overwrites the immediate it returns, and the routine runs again.
# Ends with RBX = the first result, RSI = the second, then writes 0 to the debug-exit port.
        .intel_syntax noprefix
        .code64
        .text
start:
        mov     rsp, 0x170000
        call    routine                         # compiled and cached: returns 0x11111111
        mov     ebx, eax
        lea     rdi, [rip + routine + 1]        # the imm32 of `mov eax, imm32`
        mov     ecx, 4
        mov     edx, 0x530
        rep insb                                # four bytes from the port over the immediate
        call    routine
        mov     esi, eax
        xor     eax, eax
        out     0xf4, al
        .balign 4096, 0
routine:
        mov     eax, 0x11111111
        ret
