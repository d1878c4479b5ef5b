/*
 * The hypercall library. On vmkit (CPUID signature VMKIT_HV_SIGNATURE) print and exit are
 * VMCALLs; on any other hypervisor, or none, they fall back to the UART and the debug-exit port,
 * so the same image runs everywhere.
 */
#include "kernel.h"
#include "../include/hypercall.h"

/* The VMCALL sits at the global label vmcall_insn so that the #UD handler can recognise a
   hypervisor that refuses it (see trap.c) and resume after it with RAX = VMCALL_UNSUPPORTED. */
__attribute__((noinline, noclone)) int64_t vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  register uint64_t r10 __asm__("r10") = a3;
  uint64_t ret;
  __asm__ volatile(".globl vmcall_insn\nvmcall_insn: vmcall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
                   : "memory");
  return (int64_t)ret;
}

/* CPUID.1:ECX[31] says a hypervisor is present; leaf 0x40000000 then names it (the convention
   KVM, Hyper-V, Xen and VMware follow). Writes the 12-byte signature and returns the max leaf. */
uint32_t hv_identify(char signature[13]) {
  uint32_t a, b, c, d;
  memset(signature, 0, 13);
  cpuid(1, &a, &b, &c, &d);
  if (!(c & (1u << 31))) return 0;
  cpuid(0x40000000, &a, &b, &c, &d);
  memcpy(signature, &b, 4);
  memcpy(signature + 4, &c, 4);
  memcpy(signature + 8, &d, 4);
  return a;
}

static int on_vmkit(void) {
  char sig[13];
  return hv_identify(sig) && memcmp(sig, VMKIT_HV_SIGNATURE, 12) == 0;
}

void hv_print(const char *s, size_t n) {
  if (on_vmkit()) vmcall(VMKIT_HC_PRINT, (uint64_t)s, n, 0, 0); /* identity map: VA = GPA */
  else console_write(s, n);
}

void __attribute__((noreturn)) hv_exit(uint32_t status) {
  if (on_vmkit()) vmcall(VMKIT_HC_EXIT, status, 0, 0, 0);
  debug_exit(status);
}

/* The `hypercall` command: report the hypervisor, make one raw VMCALL and show what came back
   in RAX, then print and exit through the library. */
void hypercall_selftest(void) {
  char sig[13];
  uint32_t max_leaf = hv_identify(sig);
  for (int i = 0; i < 12; i++)
    if (sig[i] && (sig[i] < 0x20 || sig[i] > 0x7e)) sig[i] = '.';
  kprintf("hypervisor: signature=\"%s\" max_leaf=0x%x vmkit=%d\n", sig, max_leaf, on_vmkit());
  /* A raw VMCALL with an empty print: vmkit prints nothing and returns 0; KVM with VT-x or SVM
     answers an unknown number with -KVM_ENOSYS (-1000); KVM's PVM backend raises #UD. */
  int64_t r = vmcall(VMKIT_HC_PRINT, 0, 0, 0, 0);
  if (r == VMCALL_UNSUPPORTED) kprintf("vmcall nr=0x%x raised #UD\n", VMKIT_HC_PRINT);
  else kprintf("vmcall nr=0x%x returned rax=%ld\n", VMKIT_HC_PRINT, r);
  static const char line[] = "hv_print: hello through the hypercall library\n";
  hv_print(line, sizeof line - 1);
  char result[96];
  int n = r == VMCALL_UNSUPPORTED
              ? snprintf(result, sizeof result, "RESULT hypercall signature=%s vmcall=ud\n", sig)
              : snprintf(result, sizeof result, "RESULT hypercall signature=%s vmcall=%ld\n", sig, r);
  hv_print(result, (size_t)n);
  hv_exit(0);
}
