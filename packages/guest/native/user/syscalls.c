/*
 * syscalls: checks the semantics of every system call from user mode and prints one line per
 * failed check, then "RESULT syscalls passed=N failed=M". Runs as pid 1.
 */
#include "ulib.h"

static int passed, failed;
static volatile int shared_value = 7;

static void check(int ok, const char *what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAIL %s\n", what);
  }
}

int prog_syscalls(int argc, char **argv) {
  (void)argc;
  (void)argv;
  check(sys_getpid() == 1, "getpid of the first process is 1");
  check(syscall6(99, 0, 0, 0) == -38, "an unknown system call returns -ENOSYS");
  check(sys_write(1, (const void *)0x10, 5) == -14, "write from an unmapped buffer returns -EFAULT");
  check(sys_write(3, "x", 1) == -22, "write to fd 3 returns -EINVAL");
  check(sys_write(1, "", 0) == 0, "an empty write returns 0");

  uint64_t b0 = sys_brk(0);
  check(b0 >= 0x40000000ULL && (b0 & 4095) == 0, "the initial break is page-aligned above the image");
  check(sys_brk(b0 + 3 * 4096) == b0 + 3 * 4096, "brk grows the heap");
  uint8_t *heap = (uint8_t *)b0;
  int zero = 1;
  for (int i = 0; i < 3 * 4096; i += 512) zero &= heap[i] == 0;
  check(zero, "new heap pages read as zero");
  heap[3 * 4096 - 1] = 0x5a;
  check(heap[3 * 4096 - 1] == 0x5a, "the heap is writable to its last byte");
  check((int64_t)sys_brk(0x40000000ULL) < 0, "brk below the initial break fails");

  uint8_t *m = sys_mmap(8192);
  check((uint64_t)m >= 0x100000000ULL, "mmap returns memory above 4 GiB");
  check(m[0] == 0 && m[8191] == 0, "mmap memory reads as zero");
  m[4096] = 1;
  check(m[4096] == 1, "mmap memory is writable");
  check((int64_t)sys_mmap(0) == -22, "mmap of 0 bytes returns -EINVAL");

  uint64_t t0 = sys_uptime();
  sys_sleep(3);
  check(sys_uptime() - t0 >= 3, "sleep(3) lasts at least 3 ticks");
  check(syscall6(SYS_YIELD, 0, 0, 0) == 0, "yield returns 0");
  check(sys_getcpu() >= 0 && sys_getcpu() < sys_ncpus(), "getcpu is below ncpus");

  check(sys_wait(0) == -1, "wait without children returns -1");
  int pid = sys_fork();
  if (pid == 0) {
    shared_value = 99;
    heap[0] = 0x77;
    sys_exit(sys_getpid() == 1 ? 1 : 42);
  }
  check(pid > 1, "fork returns the child's pid to the parent");
  int status = -1;
  check(sys_wait(&status) == pid, "wait returns the child's pid");
  check(status == 42, "wait stores the child's exit status, and the child's pid is not 1");
  check(shared_value == 7 && heap[0] == 0, "the child's writes do not reach the parent (copy-on-write)");

  pid = sys_fork();
  if (pid == 0) sys_exit(5);
  check(sys_wait((int *)0x10) == -14, "wait with an unmapped status pointer returns -EFAULT");
  check(sys_wait(0) == -1, "the child was reaped even so");

  printf("RESULT syscalls passed=%d failed=%d\n", passed, failed);
  return failed ? 1 : 0;
}
