/*
 * The vmkit boot protocol: the contract between a VMM (vmkit's @vmkit/vmm, or the KVM runner in
 * native/runner) and the guest kernel. The README's "Boot protocol" section is the prose version.
 * Every field is little-endian; addresses are guest-physical.
 */
#ifndef VMKIT_BOOTINFO_H
#define VMKIT_BOOTINFO_H

#include <stdint.h>

/* "VMKITBI1" read as a little-endian u64. */
#define VMKIT_BOOT_MAGIC 0x31494254494b4d56ULL
#define VMKIT_BOOT_VERSION 1

/* Memory-map entry types. */
#define VMKIT_MEM_USABLE 1   /* RAM the kernel may allocate (minus its own image) */
#define VMKIT_MEM_RESERVED 2 /* never touched: boot page tables, boot-info blocks, holes */

/* Device-list entry types. */
#define VMKIT_DEV_UART16550 1  /* base = I/O port of a 16550 UART (0x3F8), size = 8 ports */
#define VMKIT_DEV_DEBUG_EXIT 2 /* base = I/O port of the debug-exit device (0xF4), size = 4 */

/* I/O ports fixed by the protocol (the device list repeats them). */
#define VMKIT_UART_PORT 0x3f8
#define VMKIT_DEBUG_EXIT_PORT 0xf4

struct vmkit_mem_entry {
  uint64_t base;
  uint64_t length;
  uint32_t type;
  uint32_t reserved;
};

struct vmkit_device {
  uint32_t type;
  uint32_t flags;
  uint64_t base;
  uint64_t size;
};

/* 64 bytes; one block per vCPU (they differ only in cpu_id). */
struct vmkit_boot_info {
  uint64_t magic;         /* 0x00 VMKIT_BOOT_MAGIC */
  uint32_t version;       /* 0x08 VMKIT_BOOT_VERSION */
  uint32_t size;          /* 0x0C sizeof(struct vmkit_boot_info) = 64 */
  uint32_t cpu_count;     /* 0x10 number of vCPUs, 1..8 */
  uint32_t cpu_id;        /* 0x14 this vCPU: 0 is the bootstrap processor */
  uint64_t cmdline;       /* 0x18 guest-physical address of the command line */
  uint32_t cmdline_len;   /* 0x20 length in bytes, without the terminating NUL */
  uint32_t mem_count;     /* 0x24 entries in the memory map */
  uint64_t mem_map;       /* 0x28 guest-physical address of vmkit_mem_entry[mem_count] */
  uint32_t device_count;  /* 0x30 entries in the device list */
  uint32_t reserved;      /* 0x34 zero */
  uint64_t devices;       /* 0x38 guest-physical address of vmkit_device[device_count] */
};

_Static_assert(sizeof(struct vmkit_boot_info) == 64, "boot info is 64 bytes");
_Static_assert(sizeof(struct vmkit_mem_entry) == 24, "memory-map entry is 24 bytes");
_Static_assert(sizeof(struct vmkit_device) == 24, "device entry is 24 bytes");

/* Debug-exit encoding: a 32-bit OUT of a status to VMKIT_DEBUG_EXIT_PORT ends the run. */
#define VMKIT_EXIT_KERNEL_FAULT 0x10000 /* | vector: unhandled exception in the kernel */
#define VMKIT_EXIT_PANIC 0x20000        /* kernel panic (an internal invariant failed) */

#endif
