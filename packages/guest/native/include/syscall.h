/* System-call numbers shared by the kernel and user programs. ABI: SYSCALL with the number in
   RAX, arguments in RDI, RSI, RDX, R10, R8, R9; the result in RAX (negative = error); RCX and
   R11 are clobbered (SDM Vol. 2B SYSCALL). */
#ifndef VMKIT_SYSCALL_H
#define VMKIT_SYSCALL_H

#define SYS_WRITE 0    /* write(fd, buf, len) -> bytes written; fd 1 and 2 go to the console */
#define SYS_EXIT 1     /* exit(status) -> does not return */
#define SYS_FORK 2     /* fork() -> child pid in the parent, 0 in the child */
#define SYS_WAIT 3     /* wait(int *status) -> pid of a reaped child, -1 if none */
#define SYS_GETPID 4   /* getpid() -> pid */
#define SYS_BRK 5      /* brk(addr) -> the new break (addr 0 queries it) */
#define SYS_MMAP 6     /* mmap(len) -> address of len bytes of anonymous zero memory */
#define SYS_YIELD 7    /* yield() -> 0 */
#define SYS_SLEEP 8    /* sleep(ticks) -> 0, after at least that many timer ticks */
#define SYS_UPTIME 9   /* uptime() -> timer ticks since boot (10 ms each under KVM) */
#define SYS_SPIN 10    /* spin(hold) -> PAUSEs spent waiting for the shared test spinlock */
#define SYS_SPINSTAT 11 /* spinstat() -> acquisitions of the shared test spinlock so far */
#define SYS_GETCPU 12  /* getcpu() -> id of the vCPU running the caller */
#define SYS_NCPUS 13   /* ncpus() -> number of vCPUs */

#define SYSCALL_COUNT 14

#endif
