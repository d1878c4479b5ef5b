#include "ulib.h"

void printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  sys_write(1, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

void *sbrk(uint64_t bytes) {
  uint64_t old = sys_brk(0);
  if (sys_brk(old + bytes) != old + bytes) return 0;
  return (void *)old;
}

static const char *find(int argc, char **argv, const char *key) {
  size_t n = strlen(key);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
  return 0;
}

uint64_t arg_u64(int argc, char **argv, const char *key, uint64_t fallback) {
  const char *v = find(argc, argv, key);
  if (!v || !*v) return fallback;
  uint64_t r = 0;
  for (; *v >= '0' && *v <= '9'; v++) r = r * 10 + (uint64_t)(*v - '0');
  return r;
}

const char *arg_str(int argc, char **argv, const char *key, const char *fallback) {
  const char *v = find(argc, argv, key);
  return v ? v : fallback;
}
