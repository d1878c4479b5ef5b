/* The IDT, exception reports and interrupt dispatch. */
#include "kernel.h"

struct __attribute__((packed)) idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};

static struct idt_gate idt[256];

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualization", "#CP control protection"};

/* 64-bit interrupt gates (SDM Vol. 3A §6.14.1): type 0xE clears IF on entry. */
void idt_init(void) {
  for (int v = 0; v < 256; v++) {
    uint64_t a = isr_table[v];
    idt[v] = (struct idt_gate){
        .offset_low = (uint16_t)a,
        .selector = KERNEL_CS,
        .ist = v == 8 ? 1 : 0, /* #DF switches to IST1 */
        .type_attr = 0x8e,
        .offset_mid = (uint16_t)(a >> 16),
        .offset_high = (uint32_t)(a >> 32),
    };
  }
}

void idt_load(void) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
}

uint64_t ipis_received;

void report_exception(const char *who, struct trapframe *tf) {
  const char *name = tf->vector < 32 && exception_names[tf->vector] ? exception_names[tf->vector] : "exception";
  kprintf("%s exception: vector=%u (%s) error=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx cs=0x%lx cr3=0x%lx cpu=%u\n", who,
          (unsigned)tf->vector, name, tf->error, tf->rip, read_cr2(), tf->rsp, tf->cs, read_cr3(), (unsigned)this_cpu()->id);
}

void trap_handler(struct trapframe *tf) {
  int from_user = (tf->cs & 3) == 3;
  if (tf->vector == VEC_TIMER) {
    apic_eoi();
    timer_tick(from_user);
    return;
  }
  if (tf->vector == VEC_RESCHED) {
    apic_eoi();
    __atomic_fetch_add(&ipis_received, 1, __ATOMIC_RELAXED);
    if (from_user) yield();
    return;
  }
  if (tf->vector == VEC_SPURIOUS) return; /* no EOI for spurious vectors (SDM Vol. 3A §11.9) */
  if (tf->vector >= 32) {
    apic_eoi();
    return;
  }
  struct proc *p = this_cpu()->proc;
  if (from_user && p && tf->vector == 14 && tf->rip == (uint64_t)syscall_entry) {
    /* KVM's PVM backend (the project's machines have no VT-x) performs SYSCALL from a non-PVM
       guest only halfway: RCX, R11 and RIP = LSTAR are set but CPL stays 3, so the fetch at
       LSTAR faults on the supervisor-only page. That fault is unambiguous (no user code lives
       at LSTAR), so finish the system call here and return with IRETQ. */
    tf->rip = tf->rcx;
    tf->rflags = tf->r11;
    syscall_handler(tf);
    tf->rflags = (tf->rflags & ~0x3000ULL) | 0x200;
    return;
  }
  if (from_user && p) {
    if (tf->vector == 14) {
      int r = uvm_fault(p, read_cr2(), tf->error);
      if (r == 0) return;
      if (r == UVM_NO_MEMORY) {
        /* Like an OOM kill: status 128 + 9 (SIGKILL), as shells report it. */
        kprintf("pid %d: out of memory at 0x%lx (rip=0x%lx), killed\n", p->pid, read_cr2(), tf->rip);
        proc_exit(128 + 9);
      }
    }
    /* A user fault kills only the process, with a status of 128 + vector (as shells report
       signals), after the same report a kernel fault gets. */
    kprintf("pid %d: ", p->pid);
    report_exception("user", tf);
    proc_exit(128 + (int)tf->vector);
  }
  if (tf->vector == 6 && tf->rip == (uint64_t)vmcall_insn) {
    tf->rax = (uint64_t)VMCALL_UNSUPPORTED; /* the hypervisor refused VMCALL: skip its 3 bytes */
    tf->rip += 3;
    return;
  }
  report_exception("kernel", tf);
  debug_exit(VMKIT_EXIT_KERNEL_FAULT | (uint32_t)tf->vector);
}
