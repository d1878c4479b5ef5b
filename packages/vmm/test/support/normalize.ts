// What the guest prints under the Vm and under KVM differs only in ways that are not the VMM's
// or the CPU's (packages/cpu/test/guest-boot.test.ts documents them):
// - "system calls: A by SYSCALL/SYSRET, B completed from #PF": this project's KVM (PVM
//   backend) only half-completes SYSCALL and the kernel finishes it from the #PF; the
//   interpreter completes it architecturally. The total must agree.
// - cr2=... in reports of non-#PF exceptions: under KVM CR2 holds that SYSCALL fallback's
//   address, and for #DF the KVM backend leaves CR2 unwritten.
// - cr3=... in user exception reports: which page a new PML4 gets is timer-dependent.
// - ticks=N in RESULT lines: the Vm counts ticks in instructions, KVM in wall-clock time.
// - a leading 0x01 byte: kvm-run prints the UART divisor-latch write as a character; the Vm
//   models LCR.DLAB.
/** The guest console with the platform differences above normalized away. */
export function normalize(text: string): string {
  return (text.startsWith(String.fromCharCode(1)) ? text.slice(1) : text)
    .replace(/(user exception: .*) cr3=0x[0-9a-f]+/g, '$1 cr3=*')
    .replace(/ ticks=\d+/g, ' ticks=*')
    .replace(
      /system calls: (\d+) by SYSCALL\/SYSRET, (\d+) completed from #PF/g,
      (_, a: string, b: string) => `system calls: ${Number(a) + Number(b)}`,
    )
    .replace(/(vector=(?!14)\d+ .*) cr2=0x[0-9a-f]+/g, '$1 cr2=*');
}
