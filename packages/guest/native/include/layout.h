/* Guest memory layout shared by the kernel, the linker script and user programs. */
#ifndef VMKIT_LAYOUT_H
#define VMKIT_LAYOUT_H

#define KERNEL_BASE 0x100000            /* physical = virtual load address of the kernel */
#define DIRECT_MAP_LIMIT 0x40000000ULL  /* the kernel identity-maps (and uses) RAM below 1 GiB */
#define USER_BASE 0x40000000ULL         /* user programs are linked here (PDPT 0, entry 1) */
#define USER_MMAP_BASE 0x100000000ULL   /* anonymous mmap grows up from 4 GiB */
#define USER_STACK_TOP 0x7ffffffff000ULL
#define USER_STACK_MAX (1024ULL * 1024ULL)
#define USER_LIMIT 0x800000000000ULL    /* first non-canonical address of the lower half */

#endif
