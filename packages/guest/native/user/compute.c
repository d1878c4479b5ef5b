/*
 * compute: a CPU-bound integer mix, the interpreter's speed benchmark. Every phase is defined
 * exactly (README "Workloads") so that a test can recompute the checksum independently.
 *   compute [n=20000] [m=48] [seed=1] [iters=1]
 */
#include "ulib.h"

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bitwise. */
static uint32_t crc32(const uint8_t *p, uint64_t n) {
  uint32_t c = 0xffffffffu;
  for (uint64_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static void sift_down(uint32_t *a, uint64_t start, uint64_t end) {
  uint64_t root = start;
  while (2 * root + 1 < end) {
    uint64_t child = 2 * root + 1;
    if (child + 1 < end && a[child] < a[child + 1]) child++;
    if (a[root] >= a[child]) return;
    uint32_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

static void heap_sort(uint32_t *a, uint64_t n) {
  for (uint64_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (uint64_t end = n; end-- > 1;) {
    uint32_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

/* Open addressing with linear probing; slot value 0 means empty, so keys are stored + 1. */
static int hash_insert(uint32_t *table, uint64_t mask, uint32_t key) {
  uint64_t h = ((uint64_t)key * 0x9e3779b1u) & mask;
  while (table[h]) {
    if (table[h] == key + 1) return 0;
    h = (h + 1) & mask;
  }
  table[h] = key + 1;
  return 1;
}

static int hash_contains(const uint32_t *table, uint64_t mask, uint32_t key) {
  uint64_t h = ((uint64_t)key * 0x9e3779b1u) & mask;
  while (table[h]) {
    if (table[h] == key + 1) return 1;
    h = (h + 1) & mask;
  }
  return 0;
}

int prog_compute(int argc, char **argv) {
  uint64_t n = arg_u64(argc, argv, "n", 20000), m = arg_u64(argc, argv, "m", 48);
  uint64_t seed = arg_u64(argc, argv, "seed", 1), iters = arg_u64(argc, argv, "iters", 1);
  if (n < 1 || n > 1000000 || m < 1 || m > 256 || iters < 1) {
    printf("compute: need 1 <= n <= 1000000, 1 <= m <= 256, iters >= 1\n");
    return 2;
  }
  uint64_t slots = 1;
  while (slots < 2 * n) slots <<= 1;
  uint32_t *a = sbrk(n * 4), *table = sbrk(slots * 4);
  uint32_t *ma = sbrk(m * m * 4), *mb = sbrk(m * m * 4);
  if (!a || !table || !ma || !mb) {
    printf("compute: out of memory\n");
    return 3;
  }
  uint32_t checksum = 0, crc = 0, sorted = 0, distinct = 0, hits = 0, matrix = 0;
  for (uint64_t it = 0; it < iters; it++) {
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ (seed + it);
    for (uint64_t i = 0; i < n; i++) a[i] = (uint32_t)(xorshift64(&s) >> 32);
    crc = crc32((const uint8_t *)a, n * 4);

    heap_sort(a, n);
    sorted = 0;
    for (uint64_t i = 0; i < n; i++) sorted += a[i] ^ (uint32_t)i;

    memset(table, 0, slots * 4);
    distinct = 0;
    for (uint64_t i = 0; i < n; i++) distinct += (uint32_t)hash_insert(table, slots - 1, (uint32_t)(xorshift64(&s) >> 48));
    hits = 0;
    for (uint64_t i = 0; i < n; i++) hits += (uint32_t)hash_contains(table, slots - 1, (uint32_t)(xorshift64(&s) >> 48));

    for (uint64_t i = 0; i < m * m; i++) {
      ma[i] = (uint32_t)(xorshift64(&s) >> 40);
      mb[i] = (uint32_t)(xorshift64(&s) >> 40);
    }
    matrix = 0;
    for (uint64_t i = 0; i < m; i++)
      for (uint64_t j = 0; j < m; j++) {
        uint32_t acc = 0;
        for (uint64_t k = 0; k < m; k++) acc += ma[i * m + k] * mb[k * m + j];
        matrix = matrix * 31 + acc;
      }
    checksum ^= crc ^ sorted ^ (distinct << 16) ^ hits ^ matrix;
    checksum = (checksum << 1) | (checksum >> 31);
  }
  printf("RESULT compute n=%lu m=%lu seed=%lu iters=%lu crc32=0x%08x sorted=0x%08x distinct=%u hits=%u "
         "matrix=0x%08x checksum=0x%08x\n",
         n, m, seed, iters, crc, sorted, distinct, hits, matrix, checksum);
  return 0;
}
