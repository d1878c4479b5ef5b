/*
 * kvm-run: boots a vmkit guest image under Linux KVM exactly as the vmkit boot protocol says
 * (see ../include/bootinfo.h and the package README), runs every vCPU on its own thread,
 * forwards the 16550 UART's transmit register to stdout and ends the run when the guest writes
 * the debug-exit port.
 *
 * usage: kvm-run [--cpus N] [--mem MIB] [--timeout SECONDS] IMAGE.elf [COMMAND LINE...]
 *
 * Exit code: the guest's status when it is below 256, 255 for larger (kernel fault) statuses,
 * 124 on timeout, 2 on a VM failure (triple fault, entry failure, bad image), 64 on bad usage.
 * The last line on stderr is always "kvm-run: status 0x..." or the reason the run failed.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/bootinfo.h"

#define MAX_CPUS 8
#define MIB (1024ULL * 1024ULL)
#define KERNEL_MIN_ADDR 0x100000ULL /* everything below is the VMM's (reserved in the map) */

/* Fixed placement of the VMM's boot structures, all below 1 MiB. */
#define BOOT_PML4 0x1000ULL
#define BOOT_PDPT 0x2000ULL
#define BOOT_PD 0x3000ULL
#define BOOT_INFO 0x5000ULL /* + 64 * cpu id */
#define BOOT_CMDLINE 0x6000ULL
#define BOOT_CMDLINE_MAX 0xfffULL
#define BOOT_MEMMAP 0x7000ULL
#define BOOT_DEVICES 0x7400ULL

/* Page-table entry bits (SDM Vol. 3A §4.5, Table 4-15..4-18). */
#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_PS 0x80ULL

static uint8_t *guest_mem;
static uint64_t guest_mem_size;
static int vm_fd;
static int kvm_fd;
static int cpu_count = 1;
static uint64_t entry_point;
static struct kvm_cpuid2 *supported_cpuid;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static char out_buf[4096];
static size_t out_len;

static void out_flush_locked(void) {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(1, out_buf + done, out_len - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  out_len = 0;
}

static void out_byte(uint8_t c) {
  pthread_mutex_lock(&out_lock);
  out_buf[out_len++] = (char)c;
  if (c == '\n' || out_len == sizeof out_buf) out_flush_locked();
  pthread_mutex_unlock(&out_lock);
}

/* Ends the whole run (every vCPU thread) after flushing the guest's output. */
static void __attribute__((noreturn)) finish(int code, const char *fmt, ...) {
  pthread_mutex_lock(&out_lock);
  out_flush_locked();
  va_list ap;
  va_start(ap, fmt);
  fputs("kvm-run: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  _exit(code);
}

static void __attribute__((noreturn)) die(const char *what) {
  finish(2, "%s: %s", what, strerror(errno));
}

static volatile sig_atomic_t timed_out;
static pthread_t vcpu_threads[MAX_CPUS];

static void on_kick(int sig) { (void)sig; }

/* On timeout, kick every vCPU out of KVM_RUN so that each reports where it was. */
static void on_alarm(int sig) {
  (void)sig;
  timed_out = 1;
  for (int id = 0; id < cpu_count; id++) pthread_kill(vcpu_threads[id], SIGUSR1);
}

static void *gpa(uint64_t addr) { return guest_mem + addr; }

static void load_elf(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) < 0) die("fstat");
  size_t size = (size_t)st.st_size;
  uint8_t *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (file == MAP_FAILED) die("mmap image");
  close(fd);
  if (size < sizeof(Elf64_Ehdr)) finish(2, "%s: not an ELF file", path);
  Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
    finish(2, "%s: not an x86-64 ELF64 executable", path);
  if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > size ||
      (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
    finish(2, "%s: bad program header table", path);
  Elf64_Phdr *ph = (Elf64_Phdr *)(file + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    uint64_t pa = ph[i].p_paddr, fs = ph[i].p_filesz, ms = ph[i].p_memsz;
    if (fs > ms || ph[i].p_offset > size || fs > size - ph[i].p_offset || pa < KERNEL_MIN_ADDR ||
        pa > guest_mem_size || ms > guest_mem_size - pa)
      finish(2, "%s: segment %d does not fit guest RAM at [0x%llx, 0x%llx)", path, i,
             (unsigned long long)pa, (unsigned long long)(pa + ms));
    memcpy(gpa(pa), file + ph[i].p_offset, fs);
    memset(gpa(pa + fs), 0, ms - fs);
  }
  entry_point = eh->e_entry;
  if (entry_point < KERNEL_MIN_ADDR || entry_point >= guest_mem_size)
    finish(2, "%s: entry 0x%llx outside guest RAM", path, (unsigned long long)entry_point);
  munmap(file, size);
}

/* Identity map of [0, min(RAM, 1 GiB)) with 2 MiB pages: the protocol's "minimal identity map". */
static void build_boot_page_tables(void) {
  uint64_t *pml4 = gpa(BOOT_PML4), *pdpt = gpa(BOOT_PDPT), *pd = gpa(BOOT_PD);
  pml4[0] = BOOT_PDPT | PTE_P | PTE_W;
  pdpt[0] = BOOT_PD | PTE_P | PTE_W;
  uint64_t limit = guest_mem_size < 1024 * MIB ? guest_mem_size : 1024 * MIB;
  for (uint64_t i = 0; i * 2 * MIB < limit; i++) pd[i] = (i * 2 * MIB) | PTE_P | PTE_W | PTE_PS;
}

static void build_boot_info(const char *cmdline) {
  size_t len = strlen(cmdline);
  if (len > BOOT_CMDLINE_MAX - 1) finish(64, "command line longer than %llu bytes", BOOT_CMDLINE_MAX - 1);
  memcpy(gpa(BOOT_CMDLINE), cmdline, len + 1);

  struct vmkit_mem_entry *map = gpa(BOOT_MEMMAP);
  map[0] = (struct vmkit_mem_entry){.base = 0, .length = KERNEL_MIN_ADDR, .type = VMKIT_MEM_RESERVED};
  map[1] = (struct vmkit_mem_entry){
      .base = KERNEL_MIN_ADDR, .length = guest_mem_size - KERNEL_MIN_ADDR, .type = VMKIT_MEM_USABLE};

  struct vmkit_device *dev = gpa(BOOT_DEVICES);
  dev[0] = (struct vmkit_device){.type = VMKIT_DEV_UART16550, .base = VMKIT_UART_PORT, .size = 8};
  dev[1] = (struct vmkit_device){.type = VMKIT_DEV_DEBUG_EXIT, .base = VMKIT_DEBUG_EXIT_PORT, .size = 4};

  for (int id = 0; id < cpu_count; id++) {
    struct vmkit_boot_info *bi = gpa(BOOT_INFO + 64ULL * (uint64_t)id);
    *bi = (struct vmkit_boot_info){
        .magic = VMKIT_BOOT_MAGIC,
        .version = VMKIT_BOOT_VERSION,
        .size = sizeof *bi,
        .cpu_count = (uint32_t)cpu_count,
        .cpu_id = (uint32_t)id,
        .cmdline = BOOT_CMDLINE,
        .cmdline_len = (uint32_t)len,
        .mem_count = 2,
        .mem_map = BOOT_MEMMAP,
        .device_count = 2,
        .devices = BOOT_DEVICES,
    };
  }
}

static void set_cpuid(int vcpu_fd, int id) {
  size_t bytes = sizeof(struct kvm_cpuid2) + supported_cpuid->nent * sizeof(struct kvm_cpuid_entry2);
  struct kvm_cpuid2 *c = malloc(bytes);
  memcpy(c, supported_cpuid, bytes);
  for (uint32_t i = 0; i < c->nent; i++) {
    struct kvm_cpuid_entry2 *e = &c->entries[i];
    /* SDM Vol. 2A CPUID: leaf 1 EBX[31:24] is the initial APIC ID, leaf 0xB/0x1F EDX the x2APIC ID. */
    if (e->function == 1) e->ebx = (e->ebx & 0x00ffffffu) | ((uint32_t)id << 24);
    if (e->function == 0xb || e->function == 0x1f) e->edx = (uint32_t)id;
  }
  if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0) die("KVM_SET_CPUID2");
  free(c);
}

static void set_long_mode(int vcpu_fd, int id) {
  struct kvm_sregs s;
  if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
  /* Flat 64-bit code segment, selector 0x10; data segments, selector 0x18 (SDM Vol. 3A §3.4.5). */
  struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb,
                             .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1};
  struct kvm_segment data = {.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3,
                             .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1};
  s.cs = code;
  s.ds = s.es = s.ss = s.fs = s.gs = data;
  /* A busy 64-bit TSS and an unusable LDT: what VM entry requires in IA-32e mode (SDM Vol. 3C §26.3.1.2). */
  s.tr = (struct kvm_segment){.base = 0, .limit = 0x67, .selector = 0, .type = 0xb, .present = 1, .s = 0};
  s.ldt = (struct kvm_segment){.selector = 0, .type = 0x2, .present = 0, .unusable = 1};
  s.gdt.base = 0;
  s.gdt.limit = 0;
  s.idt.base = 0;
  s.idt.limit = 0;
  s.cr0 = 0x80010033ULL; /* PG | WP | NE | ET | MP | PE */
  s.cr3 = BOOT_PML4;
  s.cr4 = 0x20ULL;       /* PAE */
  s.efer = 0x500ULL;     /* LMA | LME */
  if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");

  struct kvm_regs r;
  memset(&r, 0, sizeof r);
  r.rip = entry_point;
  r.rdi = BOOT_INFO + 64ULL * (uint64_t)id;
  r.rflags = 0x2;
  if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
}

static void __attribute__((noreturn)) report_registers(int vcpu_fd, const char *why, int id, int code) {
  struct kvm_regs r;
  struct kvm_sregs s;
  if (ioctl(vcpu_fd, KVM_GET_REGS, &r) == 0 && ioctl(vcpu_fd, KVM_GET_SREGS, &s) == 0)
    finish(code, "%s on vCPU %d: rip=0x%llx rsp=0x%llx cr2=0x%llx cr3=0x%llx", why, id,
           (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)s.cr2,
           (unsigned long long)s.cr3);
  finish(code, "%s on vCPU %d", why, id);
}

static void handle_io(struct kvm_run *run) {
  uint8_t *data = (uint8_t *)run + run->io.data_offset;
  uint16_t port = run->io.port;
  for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
    if (run->io.direction == KVM_EXIT_IO_OUT) {
      if (port == VMKIT_UART_PORT) {
        out_byte(data[0]); /* THR: the transmit holding register */
      } else if (port >= VMKIT_DEBUG_EXIT_PORT && port < VMKIT_DEBUG_EXIT_PORT + 4) {
        uint32_t status = 0;
        memcpy(&status, data, run->io.size);
        finish(status < 256 ? (int)status : 255, "status 0x%x", status);
      }
      /* Other OUTs (UART control registers, unknown ports) are accepted and ignored. */
    } else {
      memset(data, 0, run->io.size);
      /* 16550 LSR (base + 5): THR empty and transmitter idle, so the guest never waits. */
      if (port == VMKIT_UART_PORT + 5) data[0] = 0x60;
      else if (!(port >= VMKIT_UART_PORT && port < VMKIT_UART_PORT + 8)) memset(data, 0xff, run->io.size);
    }
  }
}

struct vcpu {
  int id;
  int fd;
  struct kvm_run *run;
};

static void *vcpu_thread(void *arg) {
  struct vcpu *v = arg;
  for (;;) {
    if (ioctl(v->fd, KVM_RUN, 0) < 0) {
      if (timed_out) report_registers(v->fd, "timeout", v->id, 124);
      if (errno == EINTR || errno == EAGAIN) continue;
      die("KVM_RUN");
    }
    switch (v->run->exit_reason) {
    case KVM_EXIT_IO:
      handle_io(v->run);
      break;
    case KVM_EXIT_HLT:
      finish(3, "vCPU %d halted with no interrupt controller to wake it", v->id);
    case KVM_EXIT_SHUTDOWN:
      report_registers(v->fd, "triple fault (shutdown)", v->id, 2);
      break;
    case KVM_EXIT_MMIO:
      finish(2, "vCPU %d: MMIO %s at unbacked 0x%llx", v->id, v->run->mmio.is_write ? "write" : "read",
             (unsigned long long)v->run->mmio.phys_addr);
    case KVM_EXIT_FAIL_ENTRY:
      finish(2, "vCPU %d: VM entry failed, reason 0x%llx", v->id,
             (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
    case KVM_EXIT_INTERNAL_ERROR:
      report_registers(v->fd, "KVM internal error", v->id, 2);
      break;
    default:
      finish(2, "vCPU %d: unexpected exit reason %u", v->id, v->run->exit_reason);
    }
  }
  return NULL;
}

static void usage(void) {
  fputs("usage: kvm-run [--cpus N] [--mem MIB] [--timeout SECONDS] IMAGE.elf [COMMAND LINE...]\n", stderr);
  _exit(64);
}

int main(int argc, char **argv) {
  unsigned long mem_mib = 128, timeout = 60;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (i + 1 >= argc) usage();
    char *end;
    unsigned long v = strtoul(argv[i + 1], &end, 10);
    if (*end != 0) usage();
    if (strcmp(argv[i], "--cpus") == 0 && v >= 1 && v <= MAX_CPUS) cpu_count = (int)v;
    else if (strcmp(argv[i], "--mem") == 0 && v >= 4 && v <= 4096) mem_mib = v;
    else if (strcmp(argv[i], "--timeout") == 0 && v >= 1) timeout = v;
    else usage();
  }
  if (i >= argc) usage();
  const char *image = argv[i++];
  char cmdline[BOOT_CMDLINE_MAX + 1] = "";
  for (size_t len = 0; i < argc; i++) {
    size_t n = strlen(argv[i]);
    if (len + n + 2 > sizeof cmdline) finish(64, "command line too long");
    if (len) cmdline[len++] = ' ';
    memcpy(cmdline + len, argv[i], n + 1);
    len += n;
  }


  guest_mem_size = mem_mib * MIB;
  guest_mem = mmap(NULL, guest_mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (guest_mem == MAP_FAILED) die("mmap guest memory");
  load_elf(image);
  build_boot_page_tables();
  build_boot_info(cmdline);

  kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) die("/dev/kvm");
  if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) finish(2, "unsupported KVM API version");
  vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
  if (vm_fd < 0) die("KVM_CREATE_VM");
  /* The in-kernel local APIC gives the guest its x2APIC timer and IPIs, and blocks HLT in the kernel. */
  if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
  /* KVM may rewrite a guest's VMCALL into the host vendor's hypercall instruction
     (KVM_X86_QUIRK_FIX_HYPERCALL_INSN); the image must run unmodified, so turn that off: a
     hypercall KVM does not know then fails inside the guest instead of patching its code. */
  struct kvm_enable_cap quirks = {.cap = KVM_CAP_DISABLE_QUIRKS2, .args = {KVM_X86_QUIRK_FIX_HYPERCALL_INSN}};
  if (ioctl(vm_fd, KVM_ENABLE_CAP, &quirks) < 0) die("KVM_CAP_DISABLE_QUIRKS2");
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = guest_mem_size, .userspace_addr = (uint64_t)guest_mem};
  if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

  int nent = 256;
  supported_cpuid = calloc(1, sizeof(struct kvm_cpuid2) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));
  supported_cpuid->nent = (uint32_t)nent;
  if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, supported_cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");

  int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int)sizeof(struct kvm_run)) die("KVM_GET_VCPU_MMAP_SIZE");
  static struct vcpu vcpus[MAX_CPUS];
  for (int id = 0; id < cpu_count; id++) {
    vcpus[id].id = id;
    vcpus[id].fd = ioctl(vm_fd, KVM_CREATE_VCPU, id);
    if (vcpus[id].fd < 0) die("KVM_CREATE_VCPU");
    vcpus[id].run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpus[id].fd, 0);
    if (vcpus[id].run == MAP_FAILED) die("mmap kvm_run");
    set_cpuid(vcpus[id].fd, id);
    set_long_mode(vcpus[id].fd, id);
    /* With an in-kernel APIC, KVM parks every vCPU but 0 waiting for INIT/SIPI; the protocol
       enters all of them at the ELF entry instead. */
    struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
    if (ioctl(vcpus[id].fd, KVM_SET_MP_STATE, &mp) < 0) die("KVM_SET_MP_STATE");
  }
  struct sigaction kick = {.sa_handler = on_kick};
  sigaction(SIGUSR1, &kick, NULL);
  for (int id = 0; id < cpu_count; id++)
    if (pthread_create(&vcpu_threads[id], NULL, vcpu_thread, &vcpus[id]) != 0) finish(2, "pthread_create failed");
  signal(SIGALRM, on_alarm);
  alarm((unsigned)timeout);
  for (int id = 0; id < cpu_count; id++) pthread_join(vcpu_threads[id], NULL);
  return 0;
}
