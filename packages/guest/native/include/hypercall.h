/*
 * The vmkit hypercall ABI: VMCALL with the number in RAX and arguments in RDI, RSI, RDX, R10;
 * the result comes back in RAX (negative = error). Only CPL 0 may call. A guest learns that it
 * runs on vmkit from CPUID leaf 0x40000000: EBX, ECX, EDX spell VMKIT_HV_SIGNATURE and EAX is the
 * highest hypervisor leaf.
 */
#ifndef VMKIT_HYPERCALL_H
#define VMKIT_HYPERCALL_H

#define VMKIT_HV_SIGNATURE "vmkitvmkitvm"

#define VMKIT_HC_PRINT 0x1000 /* print(gpa, len) -> bytes printed */
#define VMKIT_HC_EXIT 0x1001  /* exit(status) -> does not return */

#endif
