/*
 * memdirty: dirties a working set at a chosen rate and pattern, for dirty-logging tests.
 *   memdirty [mb=4] [passes=4] [stride=4096] [rate=0] [pattern=seq|random]
 * Each pass increments the bytes at offsets 0, stride, 2*stride, ... of every page (stride >= 4096
 * touches byte 0 only: QEMU's migration-test pattern when pattern=seq). pattern=random visits
 * the pages in a different permutation each pass. rate = pages per timer tick (0: unlimited).
 * After P passes every touched byte holds P mod 256, which the checksum and a replica can check.
 */
#include "ulib.h"

int prog_memdirty(int argc, char **argv) {
  uint64_t mb = arg_u64(argc, argv, "mb", 4), passes = arg_u64(argc, argv, "passes", 4);
  uint64_t stride = arg_u64(argc, argv, "stride", 4096), rate = arg_u64(argc, argv, "rate", 0);
  const char *pattern = arg_str(argc, argv, "pattern", "seq");
  int random = strncmp(pattern, "random", 7) == 0;
  if (mb < 1 || mb > 512 || stride < 1 || (!random && strncmp(pattern, "seq", 4) != 0)) {
    printf("memdirty: need 1 <= mb <= 512, stride >= 1, pattern seq or random\n");
    return 2;
  }
  uint64_t pages = mb * 256;
  uint8_t *mem = sys_mmap(pages * 4096);
  if ((int64_t)mem < 0) {
    printf("memdirty: mmap failed\n");
    return 3;
  }
  uint64_t dirtied = 0, budget = rate, tick = sys_uptime(), t0 = tick;
  for (uint64_t p = 0; p < passes; p++) {
    for (uint64_t k = 0; k < pages; k++) {
      /* pages is a multiple of 256, so an odd multiplier makes k -> page a permutation. */
      uint64_t page = random ? (k * (2 * p + 0x9e3779b1ULL) + p * 7919) % pages : k;
      for (uint64_t off = 0; off < 4096; off += stride) mem[page * 4096 + off]++;
      dirtied++;
      if (rate && --budget == 0) {
        while (sys_uptime() == tick) sys_sleep(1);
        tick = sys_uptime();
        budget = rate;
      }
    }
  }
  uint64_t checksum = 0, mismatches = 0;
  for (uint64_t page = 0; page < pages; page++)
    for (uint64_t off = 0; off < 4096; off += stride) {
      checksum += mem[page * 4096 + off];
      if (mem[page * 4096 + off] != (uint8_t)passes) mismatches++;
    }
  printf("RESULT memdirty mb=%lu passes=%lu stride=%lu rate=%lu pattern=%s pages=%lu dirtied=%lu checksum=%lu "
         "mismatches=%lu ticks=%lu\n",
         mb, passes, stride, rate, random ? "random" : "seq", pages, dirtied, checksum, mismatches,
         sys_uptime() - t0);
  return mismatches ? 1 : 0;
}
