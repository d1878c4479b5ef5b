/*
 * spin: processes contending for one kernel spinlock (waiters spin with PAUSE) with a chosen
 * hold time (iterations inside the lock) and think time (iterations outside it).
 *   spin [procs=4] [iters=2000] [hold=200] [think=200]
 * Each child exits with the mask of vCPUs it ran on; acquisitions must equal procs * iters.
 */
#include "ulib.h"

static int child(uint64_t id, uint64_t iters, uint64_t hold, uint64_t think) {
  uint64_t pauses = 0;
  int mask = 0;
  for (uint64_t i = 0; i < iters; i++) {
    mask |= 1 << sys_getcpu();
    pauses += sys_spin(hold);
    for (volatile uint64_t t = 0; t < think; t++) {
    }
  }
  printf("spin: child %lu pauses=%lu cpus=0x%x\n", id, pauses, mask);
  return mask;
}

int prog_spin(int argc, char **argv) {
  uint64_t procs = arg_u64(argc, argv, "procs", 4), iters = arg_u64(argc, argv, "iters", 2000);
  uint64_t hold = arg_u64(argc, argv, "hold", 200), think = arg_u64(argc, argv, "think", 200);
  if (procs < 1 || procs > 32) {
    printf("spin: need 1 <= procs <= 32\n");
    return 2;
  }
  uint64_t before = sys_spinstat(), t0 = sys_uptime();
  for (uint64_t p = 0; p < procs; p++) {
    int pid = sys_fork();
    if (pid == 0) sys_exit(child(p, iters, hold, think));
    if (pid < 0) {
      printf("spin: fork failed\n");
      return 1;
    }
  }
  int mask = 0, status;
  for (uint64_t p = 0; p < procs; p++) {
    if (sys_wait(&status) < 0) break;
    mask |= status;
  }
  printf("RESULT spin procs=%lu iters=%lu hold=%lu think=%lu acquisitions=%lu cpus_mask=0x%x ticks=%lu\n", procs,
         iters, hold, think, sys_spinstat() - before, mask, sys_uptime() - t0);
  return 0;
}
