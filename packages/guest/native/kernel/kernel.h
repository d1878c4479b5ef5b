/* Shared declarations of the vmkit guest kernel. */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../include/bootinfo.h"
#include "../include/layout.h"
#include "../include/klib.h"

#define MAX_CPUS 8
#define NPROC 64
#define KSTACK_SIZE 16384
#define PAGE_SIZE 4096ULL
#define PTE_WRITABLE 0x2ULL /* the R/W bit of a page-table entry (SDM Vol. 3A §4.5) */

/* GDT selectors (SDM Vol. 3A §3.4.2), laid out as Linux does: kernel CS/SS equal the boot
   protocol's 0x10/0x18, and the user ones follow the order SYSRET requires: STAR[63:48] = 32-bit
   user CS, +8 = user SS, +16 = 64-bit user CS (SDM Vol. 2B SYSRET). Hypervisors that run guest
   user code directly on the host's user segments (KVM's PVM backend) require user CS = 0x33. */
#define KERNEL_CS 0x10
#define KERNEL_DS 0x18
#define USER32_CS 0x23
#define USER_DS 0x2b
#define USER_CS 0x33
#define TSS_SEL 0x40

/* Interrupt vectors. */
#define VEC_TIMER 32
#define VEC_RESCHED 33
#define VEC_SPURIOUS 0xff

/* The interrupt/syscall frame; the order matches the pushes in entry.S. */
struct trapframe {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss; /* the hardware frame (SDM Vol. 3A §6.14.2) */
};

struct tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
} __attribute__((packed));

struct proc;

/* Per-CPU state; GS.base points here while in the kernel. entry.S uses the first four fields. */
struct cpu {
  struct cpu *self;     /* %gs:0 */
  uint64_t kstack_top;  /* %gs:8: kernel stack for SYSCALL entry */
  uint64_t user_rsp;    /* %gs:16: scratch for SYSCALL entry */
  uint64_t id;          /* %gs:24 */
  struct proc *proc;
  uint64_t *sched_sp;
  uint32_t apic_id;
  volatile int online;
  uint64_t ticks;
  uint64_t gdt[10];
  struct tss tss;
};

static inline struct cpu *this_cpu(void) {
  struct cpu *c;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(c));
  return c;
}

/* Spinlocks: test-and-test-and-set, waiting with PAUSE (the hint that pause-loop exiting
   detects, SDM Vol. 3C §25.1.3). */
struct spinlock {
  volatile uint32_t locked;
  int cpu;
  const char *name;
};
void spin_lock(struct spinlock *l);
uint64_t spin_lock_counted(struct spinlock *l);
void spin_unlock(struct spinlock *l);

/* Port I/O, MSRs, control registers. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t read_cr2(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static inline uint64_t read_cr3(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* console.c */
void console_init(void);
void console_write(const char *s, size_t n);
void kprintf(const char *fmt, ...);
void __attribute__((noreturn)) debug_exit(uint32_t status);
void __attribute__((noreturn)) panic(const char *fmt, ...);

/* cpu.c */
extern struct cpu cpus[MAX_CPUS];
extern uint32_t cpu_count;
void cpu_init(uint32_t id);
void apic_init(void);
void apic_eoi(void);
void apic_send_ipi(uint32_t apic_id, uint8_t vector);
void set_kernel_stack(uint64_t top);

/* trap.c */
void idt_init(void);
void idt_load(void);
void trap_handler(struct trapframe *tf);
extern uint64_t ipis_received;
void report_exception(const char *who, struct trapframe *tf);

/* mm.c */
extern uint64_t kernel_pml4;
void mm_init(const struct vmkit_boot_info *bi);
uint64_t page_alloc(void);
void page_ref(uint64_t pa);
void page_free(uint64_t pa);
uint64_t pages_free(void);
uint64_t uvm_create(void);
int uvm_map(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags);
uint64_t uvm_fork(uint64_t pml4);
void uvm_destroy(uint64_t pml4);
void *uvm_translate(uint64_t pml4, uint64_t va, int write);
#define UVM_NO_MEMORY (-2)
int uvm_fault(struct proc *p, uint64_t va, uint64_t error);
uint64_t uvm_load_image(uint64_t pml4);

/* proc.c */
enum proc_state { UNUSED, EMBRYO, RUNNABLE, RUNNING, SLEEPING, ZOMBIE };
struct proc {
  int pid;
  enum proc_state state;
  struct proc *parent;
  uint64_t pml4;
  uint64_t *sp;          /* saved kernel stack pointer while switched out */
  uint64_t kstack_top;
  struct trapframe *tf;
  void *chan;            /* what a SLEEPING process waits for */
  uint64_t wake_tick;    /* for timed sleep; 0 = not a timed sleep */
  int exit_status;
  int last_cpu;
  uint64_t brk_start, brk;
  uint64_t mmap_next;
};
extern struct spinlock ptable_lock;
extern volatile uint64_t ticks;
void proc_init(void);
void __attribute__((noreturn)) scheduler(void);
void user_init(const char *cmdline, uint32_t len);
void yield(void);
void timer_tick(int from_user);
int proc_fork(struct trapframe *tf);
void __attribute__((noreturn)) proc_exit(int status);
int proc_wait(uint64_t status_va);
void proc_sleep_ticks(uint64_t n);

/* syscall.c */
void syscall_init(void);
void syscall_handler(struct trapframe *tf);
extern uint64_t syscalls_fast, syscalls_trapped;

/* hypercall.c */
void hypercall_selftest(void);
#define VMCALL_UNSUPPORTED ((int64_t)0x8000000000000000ULL)
extern char vmcall_insn[];
int64_t vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
uint32_t hv_identify(char signature[13]);
void hv_print(const char *s, size_t n);
void __attribute__((noreturn)) hv_exit(uint32_t status);
void kmain(const struct vmkit_boot_info *bi);
void proc_first_run(void);

/* entry.S */
void swtch(uint64_t **save_sp, uint64_t *load_sp);
void trap_return(void);
void fork_return(void);
void syscall_entry(void);
void reload_segments(void);
extern uint64_t isr_table[256];

#endif
