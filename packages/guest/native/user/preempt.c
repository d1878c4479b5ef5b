/*
 * preempt: a child computes without making system calls while the parent sleeps; with time-slice
 * preemption the parent wakes and prints before the child finishes, even on one vCPU.
 *   preempt [loops=200000000]
 */
#include "ulib.h"

int prog_preempt(int argc, char **argv) {
  uint64_t loops = arg_u64(argc, argv, "loops", 200000000);
  int pid = sys_fork();
  if (pid == 0) {
    for (volatile uint64_t i = 0; i < loops; i++) {
    }
    printf("preempt: child finished computing\n");
    sys_exit(0);
  }
  sys_sleep(2);
  printf("preempt: parent ran while the child computed\n");
  int status = -1;
  sys_wait(&status);
  printf("RESULT preempt child_status=%d\n", status);
  return 0;
}
