/*
 * Processes and the scheduler. One global process table under ptable_lock; every vCPU runs the
 * same round-robin scheduler loop (xv6's structure: the lock is held across the switch into a
 * process and released by it). Time slices come from each vCPU's x2APIC timer.
 */
#include "kernel.h"

#define TIME_SLICE_TICKS 2

struct spinlock ptable_lock = {.name = "ptable"};
volatile uint64_t ticks;
static struct proc procs[NPROC];
static uint8_t kstacks[NPROC][KSTACK_SIZE] __attribute__((aligned(16)));
static int next_pid = 1;
static int rr_next;
static struct proc *init_proc;

void proc_init(void) {
  for (int i = 0; i < NPROC; i++) procs[i].kstack_top = (uint64_t)&kstacks[i + 1];
}

/* Claims a free slot with a kernel stack prepared so that its first switch lands in
   fork_return and then trap_return with the trapframe at the top of the stack. */
static struct proc *proc_alloc(void) {
  spin_lock(&ptable_lock);
  struct proc *p = 0;
  for (int i = 0; i < NPROC; i++) {
    if (procs[i].state == UNUSED) {
      p = &procs[i];
      break;
    }
  }
  if (!p) {
    spin_unlock(&ptable_lock);
    return 0;
  }
  p->state = EMBRYO;
  p->pid = next_pid++;
  spin_unlock(&ptable_lock);

  uint64_t sp = p->kstack_top - sizeof(struct trapframe);
  p->tf = (struct trapframe *)sp;
  memset(p->tf, 0, sizeof *p->tf);
  sp -= 8;
  *(uint64_t *)sp = (uint64_t)fork_return;
  sp -= 6 * 8; /* rbp rbx r12 r13 r14 r15 for swtch to pop */
  memset((void *)sp, 0, 6 * 8);
  p->sp = (uint64_t *)sp;
  p->chan = 0;
  p->wake_tick = 0;
  p->exit_status = 0;
  p->last_cpu = -1;
  return p;
}

/* Called (via fork_return) the first time a process runs: release the lock the scheduler held. */
void proc_first_run(void) { spin_unlock(&ptable_lock); }

static void wake_idle_cpus(void) {
  struct cpu *self = this_cpu();
  for (uint32_t i = 0; i < cpu_count; i++)
    if (&cpus[i] != self && cpus[i].online && !cpus[i].proc) apic_send_ipi(cpus[i].apic_id, VEC_RESCHED);
}

/* The first process: the built-in program image with the command line on its stack. */
void user_init(const char *cmdline, uint32_t len) {
  struct proc *p = proc_alloc();
  if (!p) panic("no process slot for init");
  p->pml4 = uvm_create();
  if (!p->pml4) panic("no memory for init");
  p->brk_start = p->brk = uvm_load_image(p->pml4);
  if (!p->brk) panic("cannot map the program image");
  p->mmap_next = USER_MMAP_BASE;
  uint64_t stack_page = page_alloc();
  if (!stack_page || uvm_map(p->pml4, USER_STACK_TOP - PAGE_SIZE, stack_page, PTE_WRITABLE) < 0) panic("no memory for init stack");
  /* The command line (NUL-terminated) at the top of the stack; RSP 16-byte aligned below it,
     RDI = its address, RSI = its length: the _ustart contract in user/crt.S. */
  if (len > PAGE_SIZE - 64) len = PAGE_SIZE - 64;
  uint64_t str_va = (USER_STACK_TOP - (len + 1)) & ~15ULL;
  memcpy((void *)(stack_page + (str_va - (USER_STACK_TOP - PAGE_SIZE))), cmdline, len);
  *(char *)(stack_page + (str_va - (USER_STACK_TOP - PAGE_SIZE)) + len) = 0;
  extern char _ustart[];
  p->tf->rip = (uint64_t)_ustart;
  p->tf->cs = USER_CS;
  p->tf->ss = USER_DS;
  p->tf->rflags = 0x202;
  p->tf->rsp = str_va - 16;
  p->tf->rdi = str_va;
  p->tf->rsi = len;
  p->parent = 0;
  init_proc = p;
  spin_lock(&ptable_lock);
  p->state = RUNNABLE;
  spin_unlock(&ptable_lock);
}

void __attribute__((noreturn)) scheduler(void) {
  struct cpu *c = this_cpu();
  for (;;) {
    spin_lock(&ptable_lock);
    struct proc *p = 0;
    for (int n = 0; n < NPROC; n++) {
      struct proc *q = &procs[(rr_next + n) % NPROC];
      if (q->state == RUNNABLE) {
        p = q;
        rr_next = (int)(q - procs + 1) % NPROC;
        break;
      }
    }
    if (p) {
      p->state = RUNNING;
      p->last_cpu = (int)c->id;
      c->proc = p;
      c->ticks = 0;
      set_kernel_stack(p->kstack_top);
      write_cr3(p->pml4);
      swtch(&c->sched_sp, p->sp);
      write_cr3(kernel_pml4);
      c->proc = 0;
      spin_unlock(&ptable_lock);
    } else {
      spin_unlock(&ptable_lock);
      /* Idle until an interrupt: STI's one-instruction shadow makes STI;HLT race-free. */
      __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
  }
}

/* Switch from the current process back to this CPU's scheduler; ptable_lock must be held. */
static void sched(void) {
  struct cpu *c = this_cpu();
  struct proc *p = c->proc;
  swtch(&p->sp, c->sched_sp);
}

void yield(void) {
  spin_lock(&ptable_lock);
  this_cpu()->proc->state = RUNNABLE;
  sched();
  spin_unlock(&ptable_lock);
}

/* Timer interrupt: CPU 0 keeps time and wakes sleepers; every CPU preempts its process when
   its slice is used up. */
void timer_tick(int from_user) {
  struct cpu *c = this_cpu();
  if (c->id == 0) {
    spin_lock(&ptable_lock);
    ticks++;
    int woke = 0;
    for (int i = 0; i < NPROC; i++) {
      if (procs[i].state == SLEEPING && procs[i].wake_tick && procs[i].wake_tick <= ticks) {
        procs[i].wake_tick = 0;
        procs[i].state = RUNNABLE;
        woke = 1;
      }
    }
    spin_unlock(&ptable_lock);
    if (woke) wake_idle_cpus();
  }
  if (from_user && c->proc && ++c->ticks >= TIME_SLICE_TICKS) yield();
}

int proc_fork(struct trapframe *tf) {
  struct proc *parent = this_cpu()->proc;
  struct proc *child = proc_alloc();
  if (!child) return -1;
  child->pml4 = uvm_fork(parent->pml4);
  if (!child->pml4) {
    spin_lock(&ptable_lock);
    child->state = UNUSED;
    spin_unlock(&ptable_lock);
    return -1;
  }
  *child->tf = *tf;
  child->tf->rax = 0; /* fork returns 0 in the child */
  child->brk_start = parent->brk_start;
  child->brk = parent->brk;
  child->mmap_next = parent->mmap_next;
  int pid = child->pid;
  spin_lock(&ptable_lock);
  child->parent = parent;
  child->state = RUNNABLE;
  spin_unlock(&ptable_lock);
  wake_idle_cpus();
  return pid;
}

static void wakeup_locked(void *chan) {
  for (int i = 0; i < NPROC; i++)
    if (procs[i].state == SLEEPING && procs[i].chan == chan) {
      procs[i].chan = 0;
      procs[i].state = RUNNABLE;
    }
}

void proc_exit(int status) {
  struct proc *p = this_cpu()->proc;
  if (p == init_proc) {
    kprintf("init exited with status %d (system calls: %lu by SYSCALL/SYSRET, %lu completed from #PF; "
            "reschedule IPIs received: %lu)\n",
            status, syscalls_fast, syscalls_trapped, ipis_received);
    debug_exit((uint32_t)status & 0xff);
  }
  /* The address space goes now; the kernel stack we are on is freed by wait(). */
  write_cr3(kernel_pml4);
  uvm_destroy(p->pml4);
  p->pml4 = kernel_pml4;
  spin_lock(&ptable_lock);
  for (int i = 0; i < NPROC; i++) {
    if (procs[i].parent == p) {
      procs[i].parent = init_proc;
      if (procs[i].state == ZOMBIE) wakeup_locked(init_proc);
    }
  }
  p->exit_status = status;
  p->state = ZOMBIE;
  if (p->parent) wakeup_locked(p->parent);
  sched();
  panic("zombie %d ran again", p->pid);
}

/* Reaps one exited child: returns its pid and stores its status at status_va (if nonzero), or
   -1 when there are no children. */
int proc_wait(uint64_t status_va) {
  struct proc *p = this_cpu()->proc;
  spin_lock(&ptable_lock);
  for (;;) {
    int have_children = 0;
    for (int i = 0; i < NPROC; i++) {
      struct proc *q = &procs[i];
      if (q->parent != p || q->state == UNUSED) continue;
      have_children = 1;
      if (q->state == ZOMBIE) {
        int pid = q->pid, status = q->exit_status;
        q->state = UNUSED;
        q->parent = 0;
        q->pid = 0;
        spin_unlock(&ptable_lock);
        if (status_va) {
          int *dst = uvm_translate(p->pml4, status_va, 1);
          if (!dst || (status_va & 3)) return -14; /* -EFAULT, the child is reaped anyway */
          *dst = status;
        }
        return pid;
      }
    }
    if (!have_children) {
      spin_unlock(&ptable_lock);
      return -1;
    }
    p->chan = p;
    p->state = SLEEPING;
    sched();
  }
}

void proc_sleep_ticks(uint64_t n) {
  struct proc *p = this_cpu()->proc;
  if (n == 0) {
    yield();
    return;
  }
  spin_lock(&ptable_lock);
  p->wake_tick = ticks + n;
  p->chan = 0;
  p->state = SLEEPING;
  sched();
  spin_unlock(&ptable_lock);
}
