/* Console output on the 16550 UART at 0x3F8, and the debug-exit port. */
#include "kernel.h"

static struct spinlock console_lock = {.name = "console"};

/* 16550 register offsets (PC16550D datasheet): THR 0, IER 1, FCR 2, LCR 3, MCR 4, LSR 5. */
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

void console_init(void) {
  outb(VMKIT_UART_PORT + UART_IER, 0x00);  /* no UART interrupts: output is polled */
  outb(VMKIT_UART_PORT + UART_LCR, 0x80);  /* DLAB on: set the divisor */
  outb(VMKIT_UART_PORT + 0, 0x01);         /* 115200 baud */
  outb(VMKIT_UART_PORT + 1, 0x00);
  outb(VMKIT_UART_PORT + UART_LCR, 0x03);  /* 8N1, DLAB off */
  outb(VMKIT_UART_PORT + UART_FCR, 0x07);  /* FIFO on and cleared */
  outb(VMKIT_UART_PORT + UART_MCR, 0x03);  /* DTR, RTS */
}

static void uart_putc(char c) {
  /* Wait for the transmit holding register to empty; a VMM's UART reports it always empty. */
  for (int spins = 0; !(inb(VMKIT_UART_PORT + UART_LSR) & LSR_THRE) && spins < 100000; spins++) cpu_pause();
  outb(VMKIT_UART_PORT + UART_THR, (uint8_t)c);
}

void console_write(const char *s, size_t n) {
  spin_lock(&console_lock);
  for (size_t i = 0; i < n; i++) uart_putc(s[i]);
  spin_unlock(&console_lock);
}

void kprintf(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  console_write(buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

void debug_exit(uint32_t status) {
  outl(VMKIT_DEBUG_EXIT_PORT, status);
  /* A VMM that ignores the port leaves us here: stop this vCPU for good. */
  for (;;) __asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  kprintf("panic: %s\n", buf);
  debug_exit(VMKIT_EXIT_PANIC);
}

/* spin_lock_counted returns how many PAUSEs it executed while waiting. */
uint64_t spin_lock_counted(struct spinlock *l) {
  uint64_t pauses = 0;
  while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
      cpu_pause();
      pauses++;
    }
  }
  return pauses;
}

void spin_lock(struct spinlock *l) { spin_lock_counted(l); }

void spin_unlock(struct spinlock *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }
