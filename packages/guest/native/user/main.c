/* umain: split the command line into words and run the built-in program named by the first. */
#include "ulib.h"

#define MAX_ARGS 32

static const struct {
  const char *name;
  int (*main)(int argc, char **argv);
} programs[] = {
    {"hello", prog_hello}, {"compute", prog_compute}, {"kbuild", prog_kbuild}, {"web", prog_web},
    {"spin", prog_spin},   {"memdirty", prog_memdirty},
    {"faults", prog_faults}, {"syscalls", prog_syscalls}, {"preempt", prog_preempt},
};

int umain(char *cmdline) {
  char *argv[MAX_ARGS + 1];
  int argc = 0;
  for (char *s = cmdline; *s && argc < MAX_ARGS;) {
    while (*s == ' ') *s++ = 0;
    if (!*s) break;
    argv[argc++] = s;
    while (*s && *s != ' ') s++;
  }
  argv[argc] = 0;
  const char *name = argc ? argv[0] : "hello";
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
    size_t n = strlen(programs[i].name);
    if (strncmp(name, programs[i].name, n + 1) == 0) return programs[i].main(argc ? argc : 1, argc ? argv : (char *[]){"hello", 0});
  }
  printf("unknown program \"%s\"; built in:", name);
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) printf(" %s", programs[i].name);
  printf(" (and the kernel commands hypercall, kfault, kdoublefault)\n");
  return 127;
}
