/* kmain: every vCPU arrives here from _start with its boot-info block. */
#include "kernel.h"

static char cmdline[1024];
static uint32_t cmdline_len;
static volatile int bsp_ready;
/* Read through a volatile so gcc cannot prove the store out of bounds. */
static volatile uint64_t kfault_address = 8;

static int command_is(const char *name) {
  size_t n = strlen(name);
  return strncmp(cmdline, name, n) == 0 && (cmdline[n] == 0 || cmdline[n] == ' ');
}

void kmain(const struct vmkit_boot_info *bi) {
  uint32_t id = bi->cpu_id;
  if (id != 0) {
    /* Secondary vCPUs wait for the bootstrap vCPU to build the shared structures. */
    while (!__atomic_load_n(&bsp_ready, __ATOMIC_ACQUIRE)) cpu_pause();
    write_cr3(kernel_pml4);
    cpu_init(id);
    apic_init();
    __atomic_store_n(&cpus[id].online, 1, __ATOMIC_RELEASE);
    scheduler();
  }

  console_init();
  if (bi->magic != VMKIT_BOOT_MAGIC || bi->version != VMKIT_BOOT_VERSION || bi->size < sizeof *bi)
    panic("bad boot-info block at %p", bi);
  cpu_count = bi->cpu_count < 1 ? 1 : bi->cpu_count > MAX_CPUS ? MAX_CPUS : bi->cpu_count;
  cmdline_len = bi->cmdline_len < sizeof cmdline - 1 ? bi->cmdline_len : (uint32_t)sizeof cmdline - 1;
  memcpy(cmdline, (const void *)bi->cmdline, cmdline_len);
  cmdline[cmdline_len] = 0;

  mm_init(bi);
  idt_init();
  proc_init();
  cpu_init(0);
  apic_init();
  cpus[0].online = 1;
  kprintf("vmkit-guest: cpus=%u free_pages=%lu cmdline=\"%s\"\n", cpu_count, pages_free(), cmdline);

  if (command_is("hypercall")) hypercall_selftest();
  if (command_is("kfault")) {
    kprintf("kfault: writing to unmapped page 0\n");
    *(volatile uint64_t *)kfault_address = 1; /* page 0 is not present in the kernel map */
  }
  if (command_is("kdoublefault")) {
    /* With RSP on the unmapped page 0, delivering #UD faults, delivering that #PF faults again:
       #DF (SDM Vol. 3A Table 6-5), which still reports because it runs on IST1. */
    kprintf("kdoublefault: executing UD2 with RSP = 0x1000\n");
    __asm__ volatile("mov $0x1000, %%rsp; ud2" ::: "memory");
  }
  user_init(cmdline, cmdline_len);
  __atomic_store_n(&bsp_ready, 1, __ATOMIC_RELEASE);
  /* Start scheduling only when every vCPU is online, so that the first fork always finds an
     idle vCPU to wake with an IPI, however slowly the host starts the secondaries. */
  for (uint32_t i = 1; i < cpu_count; i++)
    while (!__atomic_load_n(&cpus[i].online, __ATOMIC_ACQUIRE)) cpu_pause();
  scheduler();
}
