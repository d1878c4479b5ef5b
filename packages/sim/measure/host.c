// Measures this machine's memory hierarchy and copy throughput for a @vmkit/sim profile.
// Prints one JSON object: TSC ticks per second, load-to-use latency in TSC ticks for working
// sets of several sizes (a dependent pointer chase over a random cyclic permutation, so neither
// the prefetcher nor out-of-order execution hides the latency), and memcpy bytes per tick for a
// cache-resident and a DRAM-sized buffer. Built and run by measure-host.mjs.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

// Average ticks per dependent load over a working set of `bytes`, one pointer per 64-byte line.
static double chase(size_t bytes, size_t steps) {
  size_t n = bytes / 64;
  char *buf = aligned_alloc(64, n * 64);
  size_t *order = malloc(n * sizeof *order);
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = next_rand() % (i + 1);
    size_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < n; i++) *(void **)(buf + order[i] * 64) = buf + order[(i + 1) % n] * 64;
  void **p = (void **)(buf + order[0] * 64);
  for (size_t i = 0; i < n; i++) p = (void **)*p; // warm up
  uint64_t t0 = __rdtsc();
  for (size_t i = 0; i < steps; i++) p = (void **)*p;
  uint64_t t1 = __rdtsc();
  if (p == NULL) puts("");
  free(order);
  free(buf);
  return (double)(t1 - t0) / steps;
}

static double copy_rate(size_t bytes, int reps) {
  char *a = aligned_alloc(64, bytes), *b = aligned_alloc(64, bytes);
  memset(a, 1, bytes);
  memset(b, 2, bytes);
  memcpy(b, a, bytes);
  uint64_t t0 = __rdtsc();
  for (int r = 0; r < reps; r++) {
    memcpy(b, a, bytes);
    a[r % bytes] ^= b[(r * 7) % bytes];
  }
  uint64_t t1 = __rdtsc();
  free(a);
  free(b);
  return (double)bytes * reps / (double)(t1 - t0);
}

// The least disturbed of three runs: other processes on the machine only ever add latency.
static double chase_min(size_t bytes, size_t steps) {
  double best = chase(bytes, steps);
  for (int i = 0; i < 2; i++) {
    double x = chase(bytes, steps);
    if (x < best) best = x;
  }
  return best;
}

int main(void) {
  double s0 = now_s();
  uint64_t c0 = __rdtsc();
  while (now_s() - s0 < 0.2) {
  }
  double tsc_hz = (double)(__rdtsc() - c0) / (now_s() - s0);
  printf("{\"tscHz\":%.0f,", tsc_hz);
  printf("\"chase\":{\"16KiB\":%.2f,\"256KiB\":%.2f,\"4MiB\":%.2f,\"256MiB\":%.2f},",
         chase_min(16 << 10, 20000000), chase_min(256 << 10, 20000000),
         chase_min(4 << 20, 10000000), chase_min(256u << 20, 4000000));
  printf("\"copyBytesPerTick\":{\"64KiB\":%.3f,\"64MiB\":%.3f}}\n", copy_rate(64 << 10, 20000),
         copy_rate(64u << 20, 20));
  return 0;
}
