/* Per-CPU descriptor tables (GDT, TSS), system-call MSRs and the x2APIC. */
#include "kernel.h"

struct cpu cpus[MAX_CPUS];
/* Per-CPU stacks for #DF, reached through IST1 (SDM Vol. 3A §6.14.5): a double fault from a
   broken kernel stack still gets its report out. */
static uint8_t double_fault_stacks[MAX_CPUS][4096] __attribute__((aligned(16)));
uint32_t cpu_count;

/* MSR numbers (SDM Vol. 4, Table 2-2). */
#define MSR_APIC_BASE 0x1b
#define MSR_EFER 0xc0000080
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_X2APIC_ID 0x802
#define MSR_X2APIC_TPR 0x808
#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_SVR 0x80f
#define MSR_X2APIC_ICR 0x830
#define MSR_X2APIC_LVT_TIMER 0x832
#define MSR_X2APIC_TIMER_INIT 0x838
#define MSR_X2APIC_TIMER_DIV 0x83e

/* Code/data descriptors (SDM Vol. 3A §3.4.5): P, S, type; L for 64-bit code. */
#define SEG_KCODE 0x00209a0000000000ULL /* P DPL0 code exec/read, L */
#define SEG_KDATA 0x0000920000000000ULL /* P DPL0 data read/write */
#define SEG_UDATA 0x0000f20000000000ULL /* P DPL3 data */
#define SEG_UCODE 0x0020fa0000000000ULL /* P DPL3 code, L */

struct __attribute__((packed)) dtr {
  uint16_t limit;
  uint64_t base;
};

void set_kernel_stack(uint64_t top) {
  struct cpu *c = this_cpu();
  c->tss.rsp[0] = top; /* SDM Vol. 3A §6.14.5: privilege change to ring 0 loads RSP0 */
  c->kstack_top = top;
}

void cpu_init(uint32_t id) {
  struct cpu *c = &cpus[id];
  c->self = c;
  c->id = id;
  c->gdt[0] = 0;
  c->gdt[1] = 0; /* 0x08: unused (Linux's 32-bit kernel code) */
  c->gdt[2] = SEG_KCODE;
  c->gdt[3] = SEG_KDATA;
  c->gdt[4] = 0; /* 0x23: 32-bit user code, unused, but SYSRET's selector arithmetic starts here */
  c->gdt[5] = SEG_UDATA;
  c->gdt[6] = SEG_UCODE;
  c->gdt[7] = 0;
  /* 64-bit TSS descriptor, 16 bytes (SDM Vol. 3A §8.2.3): type 9 (available), present. */
  uint64_t base = (uint64_t)&c->tss, limit = sizeof c->tss - 1;
  c->gdt[8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) |
              (((base >> 24) & 0xff) << 56);
  c->gdt[9] = base >> 32;
  c->tss.iomap_base = sizeof c->tss; /* no I/O bitmap: CPL 3 port access faults */
  c->tss.ist[0] = (uint64_t)&double_fault_stacks[id + 1];

  struct dtr gdtr = {sizeof c->gdt - 1, (uint64_t)c->gdt};
  __asm__ volatile("lgdt %0" ::"m"(gdtr));
  reload_segments();
  __asm__ volatile("ltr %w0" ::"r"(TSS_SEL));
  wrmsr(MSR_GS_BASE, (uint64_t)c);
  wrmsr(MSR_KERNEL_GS_BASE, 0);
  idt_load();
  syscall_init();
}

/* x2APIC mode through IA32_APIC_BASE (SDM Vol. 3A §11.12.1): EN (bit 11) and EXTD (bit 10). */
void apic_init(void) {
  struct cpu *c = this_cpu();
  uint32_t a, b, cx, d;
  cpuid(1, &a, &b, &cx, &d);
  if (!(cx & (1u << 21))) panic("cpu %u: no x2APIC (CPUID.1:ECX[21])", (unsigned)c->id);
  wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1ULL << 11) | (1ULL << 10));
  c->apic_id = (uint32_t)rdmsr(MSR_X2APIC_ID);
  wrmsr(MSR_X2APIC_TPR, 0);
  wrmsr(MSR_X2APIC_SVR, 0x100 | VEC_SPURIOUS); /* APIC software enable */
  /* Periodic timer (SDM Vol. 3A §11.5.4): divide by 1, one interrupt per 10,000,000 APIC timer
     clocks. KVM's APIC timer clock is 1 GHz, so a tick is 10 ms there. */
  wrmsr(MSR_X2APIC_TIMER_DIV, 0xb);
  wrmsr(MSR_X2APIC_LVT_TIMER, (1u << 17) | VEC_TIMER);
  wrmsr(MSR_X2APIC_TIMER_INIT, 10000000);
}

void apic_eoi(void) { wrmsr(MSR_X2APIC_EOI, 0); }

/* x2APIC ICR (SDM Vol. 3A §11.12.9): destination in bits 63:32, fixed delivery, physical mode. */
void apic_send_ipi(uint32_t apic_id, uint8_t vector) {
  wrmsr(MSR_X2APIC_ICR, ((uint64_t)apic_id << 32) | (1u << 14) | vector);
}
