/* The user-side runtime: system-call wrappers, printing and argument parsing. */
#ifndef VMKIT_ULIB_H
#define VMKIT_ULIB_H

#include "../include/klib.h"
#include "../include/syscall.h"

/* Raw system call with up to three arguments (the ABI has six: RDI, RSI, RDX, R10, R8, R9). */
static inline int64_t syscall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2) {
  int64_t ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
  return ret;
}

static inline int64_t sys_write(int fd, const void *buf, size_t len) { return syscall6(SYS_WRITE, fd, (uint64_t)buf, len); }
static inline void __attribute__((noreturn)) sys_exit(int status) {
  syscall6(SYS_EXIT, (uint64_t)status, 0, 0);
  for (;;) {
  }
}
static inline int sys_fork(void) { return (int)syscall6(SYS_FORK, 0, 0, 0); }
static inline int sys_wait(int *status) { return (int)syscall6(SYS_WAIT, (uint64_t)status, 0, 0); }
static inline int sys_getpid(void) { return (int)syscall6(SYS_GETPID, 0, 0, 0); }
static inline uint64_t sys_brk(uint64_t addr) { return (uint64_t)syscall6(SYS_BRK, addr, 0, 0); }
static inline void *sys_mmap(uint64_t len) { return (void *)syscall6(SYS_MMAP, len, 0, 0); }
static inline void sys_yield(void) { syscall6(SYS_YIELD, 0, 0, 0); }
static inline void sys_sleep(uint64_t ticks) { syscall6(SYS_SLEEP, ticks, 0, 0); }
static inline uint64_t sys_uptime(void) { return (uint64_t)syscall6(SYS_UPTIME, 0, 0, 0); }
static inline uint64_t sys_spin(uint64_t hold) { return (uint64_t)syscall6(SYS_SPIN, hold, 0, 0); }
static inline uint64_t sys_spinstat(void) { return (uint64_t)syscall6(SYS_SPINSTAT, 0, 0, 0); }
static inline int sys_getcpu(void) { return (int)syscall6(SYS_GETCPU, 0, 0, 0); }
static inline int sys_ncpus(void) { return (int)syscall6(SYS_NCPUS, 0, 0, 0); }

void printf(const char *fmt, ...);
void *sbrk(uint64_t bytes);

/* key=value arguments: arg_u64(argc, argv, "pages", 16). */
uint64_t arg_u64(int argc, char **argv, const char *key, uint64_t fallback);
const char *arg_str(int argc, char **argv, const char *key, const char *fallback);

/* A small deterministic generator (xorshift64, Marsaglia 2003) for reproducible workloads. */
static inline uint64_t xorshift64(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* Programs: each prints a "RESULT <name> key=value..." line and returns its exit status. */
int prog_hello(int argc, char **argv);
int prog_compute(int argc, char **argv);
int prog_kbuild(int argc, char **argv);
int prog_web(int argc, char **argv);
int prog_spin(int argc, char **argv);
int prog_memdirty(int argc, char **argv);
int prog_faults(int argc, char **argv);
int prog_syscalls(int argc, char **argv);
int prog_preempt(int argc, char **argv);

#endif
