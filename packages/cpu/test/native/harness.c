/*
 * Differential-test harness: runs x86-64 instruction bytes natively with given registers,
 * RFLAGS and a 512-byte data buffer, and prints the resulting registers, RFLAGS and buffer.
 *
 * Input, one case per line (hex, no 0x):  code r0 .. r15 rflags buffer(1024 hex digits)
 * Output, one line per case:              ok r0 .. r15 rflags buffer   |   sig <signal number>
 *
 * Everything lives in one fixed mapping at 0x20000000 so that vmkit can use the same
 * addresses: context at +0x0000, data buffer at +0x1000, code at +0x2000, an alternate signal
 * stack above. Faults (SIGFPE for #DE, SIGSEGV, SIGILL...) are caught and reported, so a
 * faulting input never ends the harness.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BASE 0x20000000UL
#define CTX_IN (BASE + 0x000)   /* 16 registers, then rflags at +0x80 */
#define CTX_OUT (BASE + 0x100)  /* 16 registers, then rflags at +0x180 */
#define HOST_RSP (BASE + 0xf00)
#define CODE_PTR (BASE + 0xf08)
#define BUFFER (BASE + 0x1000)
#define BUFFER_SIZE 512
#define CODE (BASE + 0x2000)
#define ALTSTACK (BASE + 0x4000)
#define MAP_SIZE 0x10000

void run_case(void);
void case_return(void);

/* The trampoline: saves the host's callee-saved registers and RSP, loads the case's RFLAGS
 * and registers from CTX_IN, jumps to the code (which ends with a jump back to case_return),
 * stores every register to CTX_OUT, restores the host RSP and reads RFLAGS. Absolute
 * addresses below 2 GiB make every access encodable without a spare register. */
__asm__(
    ".text\n"
    ".globl run_case\n"
    "run_case:\n"
    "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "  mov %rsp, 0x20000f00\n"
    "  pushq 0x20000080\n popfq\n"
    "  mov 0x20000000, %rax\n mov 0x20000008, %rcx\n mov 0x20000010, %rdx\n"
    "  mov 0x20000018, %rbx\n mov 0x20000028, %rbp\n mov 0x20000030, %rsi\n"
    "  mov 0x20000038, %rdi\n mov 0x20000040, %r8\n mov 0x20000048, %r9\n"
    "  mov 0x20000050, %r10\n mov 0x20000058, %r11\n mov 0x20000060, %r12\n"
    "  mov 0x20000068, %r13\n mov 0x20000070, %r14\n mov 0x20000078, %r15\n"
    "  mov 0x20000020, %rsp\n"
    "  jmp *0x20000f08\n"
    ".globl case_return\n"
    "case_return:\n"
    "  mov %rax, 0x20000100\n mov %rcx, 0x20000108\n mov %rdx, 0x20000110\n"
    "  mov %rbx, 0x20000118\n mov %rsp, 0x20000120\n mov %rbp, 0x20000128\n"
    "  mov %rsi, 0x20000130\n mov %rdi, 0x20000138\n mov %r8, 0x20000140\n"
    "  mov %r9, 0x20000148\n mov %r10, 0x20000150\n mov %r11, 0x20000158\n"
    "  mov %r12, 0x20000160\n mov %r13, 0x20000168\n mov %r14, 0x20000170\n"
    "  mov %r15, 0x20000178\n"
    "  mov 0x20000f00, %rsp\n"
    "  pushfq\n pop %rax\n mov %rax, 0x20000180\n"
    "  cld\n"
    "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "  ret\n");

static sigjmp_buf escape;

static void on_signal(int sig) { siglongjmp(escape, sig); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parses `n` bytes of hex from *p into out; returns 0 on success. */
static int parse_bytes(char **p, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int hi = hexval((*p)[0]), lo = hexval((*p)[1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi * 16 + lo);
    *p += 2;
  }
  return 0;
}

static char *skip_space(char *p) {
  while (*p == ' ') p++;
  return p;
}

int main(void) {
  uint8_t *map = mmap((void *)BASE, MAP_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (map != (uint8_t *)BASE) {
    perror("mmap");
    return 2;
  }
  stack_t ss = {.ss_sp = (void *)ALTSTACK, .ss_size = 0x8000, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    perror("sigaltstack");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK | SA_NODEFER;
  int sigs[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *p = line;
    char *end = strchr(p, ' ');
    if (end == NULL) break;
    size_t code_len = (size_t)(end - p) / 2;
    if (code_len > 0x1000 - 14 || parse_bytes(&p, (uint8_t *)CODE, code_len) != 0) {
      printf("bad input\n");
      continue;
    }
    /* jmp [rip+0]; .quad case_return */
    uint8_t *tail = (uint8_t *)CODE + code_len;
    const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(tail, jmp, 6);
    uint64_t back = (uint64_t)(uintptr_t)case_return;
    memcpy(tail + 6, &back, 8);
    *(uint64_t *)CODE_PTR = CODE;
    uint64_t *in = (uint64_t *)CTX_IN;
    int bad = 0;
    for (int r = 0; r < 17 && !bad; r++) {
      p = skip_space(p);
      uint8_t be[8];
      bad = parse_bytes(&p, be, 8);
      uint64_t v = 0;
      for (int k = 0; k < 8; k++) v = (v << 8) | be[k];
      in[r] = v;
    }
    p = skip_space(p);
    if (bad || parse_bytes(&p, (uint8_t *)BUFFER, BUFFER_SIZE) != 0) {
      printf("bad input\n");
      continue;
    }
    __builtin___clear_cache((char *)CODE, (char *)tail + 14);
    int sig = sigsetjmp(escape, 1);
    if (sig != 0) {
      printf("sig %d\n", sig);
      continue;
    }
    run_case();
    uint64_t *out = (uint64_t *)CTX_OUT;
    printf("ok");
    for (int r = 0; r < 17; r++) printf(" %016llx", (unsigned long long)out[r]);
    printf(" ");
    for (int i = 0; i < BUFFER_SIZE; i++) printf("%02x", ((uint8_t *)BUFFER)[i]);
    printf("\n");
  }
  return 0;
}
