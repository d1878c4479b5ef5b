/*
 * A CPU-bound integer workload (CRC-32, sorting, a hash table, matrix multiply, 64-bit
 * multiply/divide, byte strings), built twice: freestanding for vmkit (-DFREESTANDING,
 * entered from start.S with the round count in RDI) and as a host program that prints the
 * same checksum. The two checksums must agree.
 */
#include <stddef.h>
#include <stdint.h>

#ifndef FREESTANDING
#include <string.h>
#else
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

#ifdef FREESTANDING
/* gcc may emit calls to these for loops and struct copies even when freestanding. */
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *dp = d;
  const unsigned char *sp = s;
  while (n--) *dp++ = *sp++;
  return d;
}
void *memset(void *d, int c, size_t n) {
  unsigned char *dp = d;
  while (n--) *dp++ = (unsigned char)c;
  return d;
}
void *memmove(void *d, const void *s, size_t n) {
  unsigned char *dp = d;
  const unsigned char *sp = s;
  if (dp < sp)
    while (n--) *dp++ = *sp++;
  else
    while (n--) dp[n] = sp[n];
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; n--, x++, y++)
    if (*x != *y) return *x - *y;
  return 0;
}
#endif

static uint64_t state = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return ~c;
}

static void quicksort(int32_t *a, long lo, long hi) {
  while (lo < hi) {
    int32_t pivot = a[(lo + hi) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

#define TABLE 1024
static uint64_t keys[TABLE];
static uint32_t vals[TABLE];

static uint64_t hash_round(int n) {
  memset(keys, 0, sizeof keys);
  uint64_t sum = 0;
  for (int i = 0; i < n; i++) {
    uint64_t k = (next() & 0xfff) + 1;
    uint64_t h = (k * 0x9e3779b97f4a7c15ULL) >> 54;
    while (keys[h] != 0 && keys[h] != k) h = (h + 1) & (TABLE - 1);
    if (keys[h] == k)
      vals[h]++;
    else {
      keys[h] = k;
      vals[h] = 1;
    }
    sum += h;
  }
  for (int i = 0; i < TABLE; i++) sum = sum * 31 + vals[i] * (keys[i] != 0);
  return sum;
}

#define N 12
static int32_t ma[N][N], mb[N][N], mc[N][N];

static uint64_t matrix_round(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      ma[i][j] = (int32_t)(next() % 1000) - 500;
      mb[i][j] = (int32_t)(next() % 1000) - 500;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      int32_t s = 0;
      for (int k = 0; k < N; k++) s += ma[i][k] * mb[k][j];
      mc[i][j] = s;
    }
  uint64_t h = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) h = (h << 5 | h >> 59) ^ (uint32_t)mc[i][j];
  return h;
}

static uint64_t arith_round(void) {
  uint64_t h = 0;
  for (int i = 0; i < 64; i++) {
    uint64_t a = next(), b = (next() >> (i & 31)) | 1;
    int64_t sa = (int64_t)a, sb = (int64_t)(b | 3) * ((i & 1) ? -1 : 1);
    h += a / b + a % b;
    h ^= (uint64_t)(sa / sb) + (uint64_t)(sa % sb);
    h += (uint64_t)(((unsigned __int128)a * b) >> 64);
    h += (uint64_t)__builtin_popcountll(a) + (uint64_t)__builtin_ctzll(b) + (uint64_t)__builtin_clzll(b);
    h = (h << (a & 63)) | (h >> ((64 - (a & 63)) & 63));
  }
  return h;
}

static uint8_t text[2048];
static int32_t arr[512];

uint64_t workload(uint64_t rounds) {
  uint64_t sum = 0;
  for (uint64_t r = 0; r < rounds; r++) {
    for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)next();
    sum += crc32(text, sizeof text);
    for (int i = 0; i < 512; i++) arr[i] = (int32_t)next();
    quicksort(arr, 0, 511);
    for (int i = 1; i < 512; i++) sum += arr[i] >= arr[i - 1];
    sum = sum * 1000003 + hash_round(800);
    sum ^= matrix_round();
    sum += arith_round();
    memmove(text + 1, text, 1000);
    sum += crc32(text, 64);
  }
  return sum;
}

#ifndef FREESTANDING
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  uint64_t rounds = argc > 1 ? strtoull(argv[1], 0, 10) : 1;
  printf("%llu\n", (unsigned long long)workload(rounds));
  return 0;
}
#endif
