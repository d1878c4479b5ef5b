/*
 * Minimal KVM runner for the paging differential test. It loads a flat guest-memory image,
 * enters 64-bit mode at CPL 0 with the registers given on the command line, runs until HLT,
 * and writes a slice of guest memory (the guest's result area) to stdout. Everything about
 * the scenarios lives in the image, which test/kvm.test.ts builds.
 *
 * usage: runner IMAGE MEMSIZE RIP RSP CR3 CR0 CR4 EFER GDT GDTLIMIT IDT TSS OUT OUTLEN
 * (numbers in hex), or: runner --cpuid, which prints the guest MAXPHYADDR and LA57 support.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(2);
}

static uint64_t arg(char **argv, int i) { return strtoull(argv[i], NULL, 16); }

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int code) {
  memset(s, 0, sizeof *s);
  s->selector = sel;
  s->base = 0;
  s->limit = 0xffffffff;
  s->type = type;
  s->present = 1;
  s->s = 1;
  s->g = 1;
  s->l = code;
  s->db = code ? 0 : 1;
}

static int probe(void) {
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = 256;
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  unsigned maxphyaddr = 36, la57 = 0;
  for (unsigned i = 0; i < cpuid->nent; i++) {
    struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
    if (e->function == 0x80000008) maxphyaddr = e->eax & 0xff;
    if (e->function == 7 && e->index == 0) la57 = (e->ecx >> 16) & 1;
  }
  printf("%u %u\n", maxphyaddr, la57);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--cpuid") == 0) return probe();
  if (argc != 15) {
    fprintf(stderr, "usage: runner IMAGE MEMSIZE RIP RSP CR3 CR0 CR4 EFER GDT GDTLIMIT IDT TSS OUT OUTLEN\n");
    return 2;
  }
  uint64_t memsize = arg(argv, 2);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  uint8_t *mem = mmap(NULL, memsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  FILE *img = fopen(argv[1], "rb");
  if (!img) die("image");
  size_t n = fread(mem, 1, memsize, img);
  fclose(img);
  if (n == 0) die("empty image");
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = memsize, .userspace_addr = (uint64_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");

  /* The guest's CPUID is what KVM supports, so CR4.SMEP/SMAP and EFER.NXE can be set. */
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = 256;
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");

  int runsize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, runsize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap run");

  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  seg(&sregs.cs, 0x08, 11, 1);
  seg(&sregs.ds, 0x10, 3, 0);
  sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
  memset(&sregs.tr, 0, sizeof sregs.tr);
  sregs.tr.selector = 0x28;
  sregs.tr.base = arg(argv, 12);
  sregs.tr.limit = 0x67;
  sregs.tr.type = 11;
  sregs.tr.present = 1;
  sregs.gdt.base = arg(argv, 9);
  sregs.gdt.limit = (uint16_t)arg(argv, 10);
  sregs.idt.base = arg(argv, 11);
  sregs.idt.limit = 0xfff;
  sregs.cr3 = arg(argv, 5);
  sregs.cr0 = arg(argv, 6);
  sregs.cr4 = arg(argv, 7);
  sregs.efer = arg(argv, 8);
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = arg(argv, 3);
  regs.rsp = arg(argv, 4);
  regs.rflags = 2;
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_HLT) break;
    if (run->exit_reason == KVM_EXIT_IO) continue;
    ioctl(vcpu, KVM_GET_REGS, &regs);
    fprintf(stderr, "unexpected exit %u at rip 0x%llx\n", run->exit_reason,
            (unsigned long long)regs.rip);
    return 3;
  }
  uint64_t out = arg(argv, 13), outlen = arg(argv, 14);
  if (out + outlen > memsize) return 4;
  fwrite(mem + out, 1, outlen, stdout);
  return 0;
}
