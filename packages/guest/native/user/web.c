/*
 * web: a server loop that forks one worker per request (WebBench against a forking server).
 * Worker i builds a response of `size` bytes, body[k] = (i * 31 + k) & 0xff, in fresh anonymous
 * memory and exits with FNV-1a-32(body) & 0xff.
 *   web [requests=64] [concurrency=4] [size=2048]
 */
#include "ulib.h"

static int worker(uint64_t i, uint64_t size) {
  uint8_t *body = sys_mmap(size);
  if ((int64_t)body < 0) return 0xff;
  for (uint64_t k = 0; k < size; k++) body[k] = (uint8_t)(i * 31 + k);
  uint32_t h = 0x811c9dc5u;
  for (uint64_t k = 0; k < size; k++) h = (h ^ body[k]) * 0x01000193u;
  return (int)(h & 0xff);
}

int prog_web(int argc, char **argv) {
  uint64_t requests = arg_u64(argc, argv, "requests", 64), conc = arg_u64(argc, argv, "concurrency", 4);
  uint64_t size = arg_u64(argc, argv, "size", 2048);
  if (conc < 1 || conc > 32 || size < 1 || size > (16u << 20)) {
    printf("web: need 1 <= concurrency <= 32 and 1 <= size <= 16 MiB\n");
    return 2;
  }
  uint64_t served = 0, running = 0, next = 0, status_sum = 0, t0 = sys_uptime();
  while (next < requests || running > 0) {
    if (next < requests && running < conc) {
      int pid = sys_fork();
      if (pid == 0) sys_exit(worker(next, size));
      if (pid > 0) {
        next++;
        running++;
        continue;
      }
      if (running == 0) break;
    }
    int status = 0;
    if (sys_wait(&status) < 0) break;
    running--;
    served++;
    status_sum += (uint64_t)status;
  }
  printf("RESULT web requests=%lu served=%lu size=%lu status_sum=%lu ticks=%lu\n", requests, served, size,
         status_sum, sys_uptime() - t0);
  return served == requests ? 0 : 1;
}
