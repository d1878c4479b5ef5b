/* faults: a child that touches an unmapped address and one that executes UD2 are killed with
   128 + vector; the parent reports both statuses. */
#include "ulib.h"

static volatile uint64_t bad_address = 0x10;

static int run_child(int which) {
  int pid = sys_fork();
  if (pid == 0) {
    if (which == 0) *(volatile int *)bad_address = 1; /* below USER_BASE: never mapped for users */
    else __asm__ volatile("ud2");
    sys_exit(0);
  }
  int status = -1;
  sys_wait(&status);
  return status;
}

int prog_faults(int argc, char **argv) {
  (void)argc;
  (void)argv;
  int pf = run_child(0);
  int ud = run_child(1);
  printf("RESULT faults page_fault_status=%d invalid_opcode_status=%d\n", pf, ud);
  return 0;
}
