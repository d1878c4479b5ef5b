/* SYSCALL/SYSRET setup and the system calls. */
#include "kernel.h"
#include "../include/syscall.h"

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define EFER_SCE 0x1

#define ENOSYS 38
#define EINVAL 22
#define EFAULT 14
#define ENOMEM 12

/* SDM Vol. 2B SYSCALL/SYSRET and Vol. 4 §2.1: STAR[47:32] = kernel CS (SS = +8),
   STAR[63:48] = user base (SS = +8, 64-bit CS = +16); SFMASK clears IF, TF, DF, AC on entry. */
void syscall_init(void) {
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
  wrmsr(MSR_STAR, ((uint64_t)(USER32_CS & ~3) << 48) | ((uint64_t)KERNEL_CS << 32));
  wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
  wrmsr(MSR_SFMASK, 0x200 | 0x100 | 0x400 | 0x40000);
}

static struct spinlock test_lock = {.name = "spin-test"};
static volatile uint64_t test_lock_count;

static int64_t sys_write(struct proc *p, uint64_t fd, uint64_t buf, uint64_t len) {
  if (fd != 1 && fd != 2) return -EINVAL;
  if (len > (1u << 20)) return -EINVAL;
  char chunk[128];
  uint64_t done = 0;
  while (done < len) {
    size_t n = 0;
    while (n < sizeof chunk && done + n < len) {
      const char *src = uvm_translate(p->pml4, buf + done + n, 0);
      if (!src) return done ? (int64_t)done : -EFAULT;
      chunk[n++] = *src;
    }
    console_write(chunk, n);
    done += n;
  }
  return (int64_t)len;
}

static int64_t sys_brk(struct proc *p, uint64_t addr) {
  if (addr == 0) return (int64_t)p->brk;
  if (addr < p->brk_start || addr >= USER_MMAP_BASE) return -ENOMEM;
  /* Shrinking releases nothing yet; pages above the break simply stop being demand-mapped. */
  p->brk = addr;
  return (int64_t)addr;
}

static int64_t sys_mmap(struct proc *p, uint64_t len) {
  if (len == 0 || len > (1ULL << 32)) return -EINVAL;
  uint64_t va = p->mmap_next;
  p->mmap_next += (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (p->mmap_next >= USER_STACK_TOP - USER_STACK_MAX) {
    p->mmap_next = va;
    return -ENOMEM;
  }
  return (int64_t)va;
}

/* The contended kernel lock of the spin workload: hold it for `hold` iterations of a
   dependent-add loop, counting the PAUSEs spent waiting. */
static int64_t sys_spin(uint64_t hold) {
  uint64_t pauses = spin_lock_counted(&test_lock);
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < hold; i++) sink += i;
  test_lock_count++;
  spin_unlock(&test_lock);
  return (int64_t)pauses;
}

uint64_t syscalls_fast, syscalls_trapped;

void syscall_handler(struct trapframe *tf) {
  struct proc *p = this_cpu()->proc;
  /* Counted per path: 256 marks entry through syscall_entry, anything else the #PF fallback. */
  __atomic_fetch_add(tf->vector == 256 ? &syscalls_fast : &syscalls_trapped, 1, __ATOMIC_RELAXED);
  int64_t r;
  switch (tf->rax) {
  case SYS_WRITE: r = sys_write(p, tf->rdi, tf->rsi, tf->rdx); break;
  case SYS_EXIT: proc_exit((int)tf->rdi);
  case SYS_FORK: r = proc_fork(tf); break;
  case SYS_WAIT: r = proc_wait(tf->rdi); break;
  case SYS_GETPID: r = p->pid; break;
  case SYS_BRK: r = sys_brk(p, tf->rdi); break;
  case SYS_MMAP: r = sys_mmap(p, tf->rdi); break;
  case SYS_YIELD: yield(); r = 0; break;
  case SYS_SLEEP: proc_sleep_ticks(tf->rdi); r = 0; break;
  case SYS_UPTIME: r = (int64_t)ticks; break;
  case SYS_SPIN: r = sys_spin(tf->rdi); break;
  case SYS_SPINSTAT: r = (int64_t)test_lock_count; break;
  case SYS_GETCPU: r = (int64_t)this_cpu()->id; break;
  case SYS_NCPUS: r = cpu_count; break;
  default: r = -ENOSYS;
  }
  tf->rax = (uint64_t)r;
}
