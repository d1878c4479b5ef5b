/* Freestanding string and formatting helpers (gcc may also call memset/memcpy itself). */
#include "../include/klib.h"

/* REP STOSB / REP MOVSB rather than C loops, which gcc -O2 would turn back into calls to these
   very functions. */
void *memset(void *d, int c, size_t n) {
  void *p = d;
  __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  void *dp = d;
  __asm__ volatile("rep movsb" : "+D"(dp), "+S"(s), "+c"(n) : : "memory");
  return d;
}

void *memmove(void *d, const void *s, size_t n) {
  if ((uintptr_t)d <= (uintptr_t)s || (uintptr_t)d >= (uintptr_t)s + n) return memcpy(d, s, n);
  /* Overlap with the destination above the source: copy backwards (DF=1), then restore DF=0. */
  unsigned char *dp = (unsigned char *)d + n - 1;
  const unsigned char *sp = (const unsigned char *)s + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(dp), "+S"(sp), "+c"(n) : : "memory");
  return d;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strncmp(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) return (unsigned char)a[i] - (unsigned char)b[i];
    if (!a[i]) return 0;
  }
  return 0;
}

struct out {
  char *buf;
  size_t size, len;
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int width, char pad) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (n < width--) put(o, pad);
  while (n) put(o, tmp[--n]);
}

/* Supports %d %i %u %x %p %s %c %%, the l/ll/z length modifiers and a 0-padded width. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, longs = 0;
    if (*fmt == '0') pad = '0';
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') longs++, fmt++;
    switch (*fmt) {
    case 'd':
    case 'i': {
      int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
      if (v < 0) {
        put(&o, '-');
        put_num(&o, (uint64_t)0 - (uint64_t)v, 10, width ? width - 1 : 0, pad);
      } else {
        put_num(&o, (uint64_t)v, 10, width, pad);
      }
      break;
    }
    case 'u':
      put_num(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
      break;
    case 'x':
      put_num(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
      break;
    case 'p':
      put(&o, '0');
      put(&o, 'x');
      put_num(&o, (uint64_t)va_arg(ap, void *), 16, 16, '0');
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      while (*s) put(&o, *s++);
      break;
    }
    case 'c':
      put(&o, (char)va_arg(ap, int));
      break;
    case '%':
      put(&o, '%');
      break;
    default:
      put(&o, '%');
      if (*fmt) put(&o, *fmt);
      else fmt--;
    }
  }
  if (size) buf[o.len < size ? o.len : size - 1] = 0;
  return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}
