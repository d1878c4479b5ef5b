/*
 * kbuild: many short-lived processes, like a kernel build: fork, touch a private working set
 * (demand-zero pages) and the parent's data (copy-on-write breaks), exit. Page-table churn.
 *   kbuild [tasks=32] [jobs=4] [pages=16]
 * Task i's exit status is (sum of its page markers + sum of the shared markers it read and
 * bumped) & 0x7f; the result line sums them.
 */
#include "ulib.h"

#define SHARED_PAGES 16
static uint8_t shared[SHARED_PAGES * 4096]; /* COW-shared with every child */

static int task(uint64_t i, uint64_t pages) {
  uint8_t *mem = sbrk(pages * 4096);
  if (!mem) return 0x7f;
  uint32_t sum = 0;
  for (uint64_t k = 0; k < pages; k++) mem[k * 4096] = (uint8_t)(i + k);
  for (uint64_t k = 0; k < pages; k++) sum += mem[k * 4096];
  for (uint64_t j = 0; j < SHARED_PAGES; j++) {
    sum += shared[j * 4096];
    shared[j * 4096] += (uint8_t)(i + 1); /* breaks COW on this page */
    sum += shared[j * 4096];
  }
  return (int)(sum & 0x7f);
}

int prog_kbuild(int argc, char **argv) {
  uint64_t tasks = arg_u64(argc, argv, "tasks", 32), jobs = arg_u64(argc, argv, "jobs", 4);
  uint64_t pages = arg_u64(argc, argv, "pages", 16);
  if (jobs < 1 || jobs > 32 || pages > 4096) {
    printf("kbuild: need 1 <= jobs <= 32 and pages <= 4096\n");
    return 2;
  }
  for (uint64_t j = 0; j < SHARED_PAGES; j++) shared[j * 4096] = (uint8_t)j;
  uint64_t started = 0, running = 0, status_sum = 0, failed = 0, t0 = sys_uptime();
  while (started < tasks || running > 0) {
    if (started < tasks && running < jobs) {
      int pid = sys_fork();
      if (pid == 0) sys_exit(task(started, pages));
      if (pid < 0) {
        failed++;
        if (running == 0) break;
      } else {
        started++;
        running++;
        continue;
      }
    }
    int status = 0;
    if (sys_wait(&status) < 0) break;
    running--;
    status_sum += (uint64_t)status;
  }
  printf("RESULT kbuild tasks=%lu jobs=%lu pages=%lu status_sum=%lu fork_failures=%lu ticks=%lu\n", tasks, jobs,
         pages, status_sum, failed, sys_uptime() - t0);
  return failed ? 1 : 0;
}
