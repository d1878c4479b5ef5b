/* hello: the smoke test. */
#include "ulib.h"

int prog_hello(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("Hello from vmkit user mode: pid %d on vCPU %d of %d\n", sys_getpid(), sys_getcpu(), sys_ncpus());
  printf("RESULT hello pid=%d\n", sys_getpid());
  return 0;
}
