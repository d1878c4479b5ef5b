/*
 * Physical pages (a free list with reference counts for copy-on-write), the kernel's identity
 * map and per-process address spaces. Every page-table entry is written by the kernel itself:
 * under a shadow MMU that is how the hypervisor learns of it (then INVLPG or a CR3 load).
 */
#include "kernel.h"

/* Page-table entry bits (SDM Vol. 3A §4.5, Tables 4-14..4-19); bits 9-11 are ignored by the
   processor and free for software (§4.5.4). */
#define PTE_P 0x1ULL
#define PTE_W 0x2ULL
#define PTE_U 0x4ULL
#define PTE_PS 0x80ULL
#define PTE_COW 0x200ULL   /* software: writable after a copy-on-write break */
#define PTE_IMAGE 0x400ULL /* software: a page of the kernel image, never reference counted */
#define PTE_ADDR 0x000ffffffffff000ULL

#define PF_P 0x1 /* #PF error code bits (SDM Vol. 3A §4.7) */
#define PF_W 0x2

extern char __image_start[], __image_end[];
extern char __user_lma[], __user_text_start[], __user_text_end[];
extern char __user_data_start[], __user_data_end[], __user_data_lma[], __user_bss_end[];

uint64_t kernel_pml4;
static uint64_t kernel_pd;
static struct spinlock mm_lock = {.name = "mm"};
static uint64_t free_list;
static uint64_t free_count;
static uint16_t *refcount;
static uint64_t max_pa;

static uint64_t *table(uint64_t pa) { return (uint64_t *)pa; } /* identity map below 1 GiB */

/* Never-used RAM, handed out in order. The boot protocol guarantees usable RAM is zero at entry,
   so these pages need no clearing: under an emulating hypervisor (KVM's PVM backend runs guest
   CPL 0 code through its instruction emulator) clearing a page costs milliseconds. */
#define MAX_FRESH 16
static struct {
  uint64_t next, end;
} fresh[MAX_FRESH];
static int fresh_count;

static void add_fresh(uint64_t start, uint64_t end) {
  start = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  end &= ~(PAGE_SIZE - 1);
  if (start == 0) start = PAGE_SIZE; /* page 0 stays unmapped */
  if (end <= start || fresh_count == MAX_FRESH) return;
  fresh[fresh_count].next = start;
  fresh[fresh_count].end = end;
  fresh_count++;
}

/* Recycled pages come from free_list (and are cleared); fresh pages come zeroed. */
uint64_t page_alloc(void) {
  int dirty = 0;
  spin_lock(&mm_lock);
  uint64_t pa = 0;
  for (int i = 0; i < fresh_count && !pa; i++) {
    if (fresh[i].next < fresh[i].end) {
      pa = fresh[i].next;
      fresh[i].next += PAGE_SIZE;
    }
  }
  if (!pa && free_list) {
    pa = free_list;
    free_list = *(uint64_t *)pa;
    free_count--;
    dirty = 1;
  }
  if (pa && refcount) refcount[pa / PAGE_SIZE] = 1;
  spin_unlock(&mm_lock);
  if (dirty) memset((void *)pa, 0, PAGE_SIZE);
  return pa;
}

void page_ref(uint64_t pa) {
  spin_lock(&mm_lock);
  refcount[pa / PAGE_SIZE]++;
  spin_unlock(&mm_lock);
}

void page_free(uint64_t pa) {
  spin_lock(&mm_lock);
  if (refcount[pa / PAGE_SIZE] == 0) panic("page_free: 0x%lx is already free", pa);
  if (--refcount[pa / PAGE_SIZE] == 0) {
    *(uint64_t *)pa = free_list;
    free_list = pa;
    free_count++;
  }
  spin_unlock(&mm_lock);
}

uint64_t pages_free(void) {
  uint64_t n = free_count;
  for (int i = 0; i < fresh_count; i++) n += (fresh[i].end - fresh[i].next) / PAGE_SIZE;
  return n;
}

static uint64_t page_alloc_or_panic(void) {
  uint64_t pa = page_alloc();
  if (!pa) panic("out of memory");
  return pa;
}

void mm_init(const struct vmkit_boot_info *bi) {
  const struct vmkit_mem_entry *map = (const struct vmkit_mem_entry *)bi->mem_map;
  for (uint32_t i = 0; i < bi->mem_count; i++) {
    if (map[i].type != VMKIT_MEM_USABLE) continue;
    uint64_t end = map[i].base + map[i].length;
    if (end > DIRECT_MAP_LIMIT) end = DIRECT_MAP_LIMIT;
    if (end > max_pa) max_pa = end;
  }
  /* Reference counts for every page below max_pa, carved out of the first usable range that
     holds them (zero already, like all usable RAM); the rest of each range is fresh memory. */
  uint64_t rc_bytes = ((max_pa / PAGE_SIZE) * sizeof(uint16_t) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  uint64_t img_lo = (uint64_t)__image_start & ~(PAGE_SIZE - 1);
  uint64_t img_hi = ((uint64_t)__image_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  for (uint32_t i = 0; i < bi->mem_count; i++) {
    if (map[i].type != VMKIT_MEM_USABLE) continue;
    uint64_t base = map[i].base, end = map[i].base + map[i].length;
    if (end > DIRECT_MAP_LIMIT) end = DIRECT_MAP_LIMIT;
    if (end <= base) continue;
    /* The range minus the kernel image: up to two pieces. */
    uint64_t pieces[2][2] = {{base, end < img_lo ? end : img_lo}, {base > img_hi ? base : img_hi, end}};
    for (int k = 0; k < 2; k++) {
      uint64_t lo = pieces[k][0], hi = pieces[k][1];
      if (hi <= lo) continue;
      if (!refcount && hi - lo >= rc_bytes + PAGE_SIZE) {
        lo = (lo + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (lo == 0) lo = PAGE_SIZE;
        refcount = (uint16_t *)lo;
        lo += rc_bytes;
      }
      add_fresh(lo, hi);
    }
  }
  if (!refcount) panic("no usable memory for page reference counts");

  /* The kernel identity map: 2 MiB pages below max_pa, except the first 2 MiB, mapped with 4 KiB
     pages so that page 0 stays unmapped and a null dereference faults. Supervisor only. */
  kernel_pml4 = page_alloc_or_panic();
  uint64_t pdpt = page_alloc_or_panic();
  kernel_pd = page_alloc_or_panic();
  uint64_t low_pt = page_alloc_or_panic();
  for (uint64_t i = 1; i < 512; i++) table(low_pt)[i] = (i * PAGE_SIZE) | PTE_P | PTE_W;
  table(kernel_pd)[0] = low_pt | PTE_P | PTE_W;
  for (uint64_t i = 1; i * 0x200000 < max_pa; i++) table(kernel_pd)[i] = (i * 0x200000) | PTE_P | PTE_W | PTE_PS;
  table(pdpt)[0] = kernel_pd | PTE_P | PTE_W;
  table(kernel_pml4)[0] = pdpt | PTE_P | PTE_W;
  write_cr3(kernel_pml4);
}

/* A new address space: its own PML4 and first PDPT, sharing the kernel's page directory. PML4[0]
   carries U=1 because user pages live under it too; the kernel PD entry has U=0, and the
   effective permission is the AND over all levels (SDM Vol. 3A §4.6.1). */
uint64_t uvm_create(void) {
  uint64_t pml4 = page_alloc(), pdpt = page_alloc();
  if (!pml4 || !pdpt) {
    if (pml4) page_free(pml4);
    if (pdpt) page_free(pdpt);
    return 0;
  }
  table(pdpt)[0] = kernel_pd | PTE_P | PTE_W;
  table(pml4)[0] = pdpt | PTE_P | PTE_W | PTE_U;
  return pml4;
}

/* The level-1 entry for va, creating missing tables when create is set (4 KiB user pages only). */
static uint64_t *walk(uint64_t pml4, uint64_t va, int create) {
  uint64_t *t = table(pml4);
  for (int shift = 39; shift > 12; shift -= 9) {
    uint64_t *e = &t[(va >> shift) & 511];
    if (!(*e & PTE_P)) {
      if (!create) return 0;
      uint64_t pa = page_alloc();
      if (!pa) return 0;
      *e = pa | PTE_P | PTE_W | PTE_U;
    }
    t = table(*e & PTE_ADDR);
  }
  return &t[(va >> 12) & 511];
}

int uvm_map(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags) {
  uint64_t *pte = walk(pml4, va, 1);
  if (!pte) return -1;
  *pte = pa | flags | PTE_P | PTE_U;
  return 0;
}

/* Calls fn on every present user leaf entry of the address space. */
static void for_each_user_pte(uint64_t pml4, void (*fn)(uint64_t va, uint64_t *pte, void *arg), void *arg) {
  uint64_t *l4 = table(pml4);
  for (uint64_t i4 = 0; i4 < 256; i4++) {
    if (!(l4[i4] & PTE_P)) continue;
    uint64_t *l3 = table(l4[i4] & PTE_ADDR);
    for (uint64_t i3 = (i4 == 0 ? 1 : 0); i3 < 512; i3++) { /* PDPT0[0] is the kernel's */
      if (!(l3[i3] & PTE_P)) continue;
      uint64_t *l2 = table(l3[i3] & PTE_ADDR);
      for (uint64_t i2 = 0; i2 < 512; i2++) {
        if (!(l2[i2] & PTE_P)) continue;
        uint64_t *l1 = table(l2[i2] & PTE_ADDR);
        for (uint64_t i1 = 0; i1 < 512; i1++)
          if (l1[i1] & PTE_P) fn((i4 << 39) | (i3 << 30) | (i2 << 21) | (i1 << 12), &l1[i1], arg);
      }
    }
  }
}

struct fork_ctx {
  uint64_t child;
  int failed;
};

/* Copy-on-write sharing: a writable page becomes read-only + COW in both address spaces. */
static void fork_pte(uint64_t va, uint64_t *pte, void *arg) {
  struct fork_ctx *ctx = arg;
  if (ctx->failed) return;
  if (!(*pte & PTE_IMAGE)) {
    if (*pte & (PTE_W | PTE_COW)) *pte = (*pte & ~PTE_W) | PTE_COW;
    page_ref(*pte & PTE_ADDR);
  }
  uint64_t *child = walk(ctx->child, va, 1);
  if (!child) {
    if (!(*pte & PTE_IMAGE)) page_free(*pte & PTE_ADDR);
    ctx->failed = 1;
    return;
  }
  *child = *pte;
}

uint64_t uvm_fork(uint64_t pml4) {
  struct fork_ctx ctx = {uvm_create(), 0};
  if (!ctx.child) return 0;
  for_each_user_pte(pml4, fork_pte, &ctx);
  write_cr3(read_cr3()); /* the parent's writable entries just became read-only */
  if (ctx.failed) {
    uvm_destroy(ctx.child);
    return 0;
  }
  return ctx.child;
}

static void free_pte(uint64_t va, uint64_t *pte, void *arg) {
  (void)va;
  (void)arg;
  if (!(*pte & PTE_IMAGE)) page_free(*pte & PTE_ADDR);
  *pte = 0;
}

void uvm_destroy(uint64_t pml4) {
  for_each_user_pte(pml4, free_pte, 0);
  uint64_t *l4 = table(pml4);
  for (uint64_t i4 = 0; i4 < 256; i4++) {
    if (!(l4[i4] & PTE_P)) continue;
    uint64_t *l3 = table(l4[i4] & PTE_ADDR);
    for (uint64_t i3 = (i4 == 0 ? 1 : 0); i3 < 512; i3++) {
      if (!(l3[i3] & PTE_P)) continue;
      uint64_t *l2 = table(l3[i3] & PTE_ADDR);
      for (uint64_t i2 = 0; i2 < 512; i2++)
        if (l2[i2] & PTE_P) page_free(l2[i2] & PTE_ADDR);
      page_free(l3[i3] & PTE_ADDR);
    }
    page_free(l4[i4] & PTE_ADDR);
  }
  page_free(pml4);
}

static int in_demand_region(struct proc *p, uint64_t va) {
  if (va >= p->brk_start && va < p->brk) return 1;
  if (va >= USER_STACK_TOP - USER_STACK_MAX && va < USER_STACK_TOP) return 1;
  if (va >= USER_MMAP_BASE && va < p->mmap_next) return 1;
  return 0;
}

/* Resolves a user page fault: demand-zero pages in the heap, stack and mmap regions, and
   copy-on-write breaks. Returns -1 when the access is a real fault, UVM_NO_MEMORY when a page
   was due but physical memory ran out. */
int uvm_fault(struct proc *p, uint64_t va, uint64_t error) {
  if (va < USER_BASE || va >= USER_LIMIT) return -1;
  va &= ~(PAGE_SIZE - 1);
  uint64_t *pte = walk(p->pml4, va, 0);
  if (!(error & PF_P) && (!pte || !(*pte & PTE_P))) {
    if (!in_demand_region(p, va)) return -1;
    uint64_t pa = page_alloc();
    if (!pa) return UVM_NO_MEMORY;
    if (uvm_map(p->pml4, va, pa, PTE_W) < 0) {
      page_free(pa);
      return UVM_NO_MEMORY;
    }
    return 0;
  }
  if ((error & PF_W) && pte && (*pte & PTE_COW)) {
    uint64_t old = *pte & PTE_ADDR;
    spin_lock(&mm_lock);
    int shared = refcount[old / PAGE_SIZE] > 1;
    spin_unlock(&mm_lock);
    if (shared) {
      uint64_t pa = page_alloc();
      if (!pa) return UVM_NO_MEMORY;
      memcpy((void *)pa, (void *)old, PAGE_SIZE);
      *pte = pa | PTE_P | PTE_W | PTE_U;
      page_free(old);
    } else {
      *pte = (*pte & ~PTE_COW) | PTE_W; /* the last sharer keeps the page */
    }
    invlpg(va);
    return 0;
  }
  return -1;
}

/* The kernel's view of a user address: demand-faults and breaks COW as the CPU would, so system
   calls see exactly what the process would. Returns 0 for addresses the process may not use. */
void *uvm_translate(uint64_t pml4, uint64_t va, int write) {
  struct proc *p = this_cpu()->proc;
  if (!p || p->pml4 != pml4 || va < USER_BASE || va >= USER_LIMIT) return 0;
  uint64_t *pte = walk(pml4, va, 0);
  if (!pte || !(*pte & PTE_P)) {
    if (uvm_fault(p, va, write ? PF_W : 0) != 0) return 0;
    pte = walk(pml4, va, 0);
  }
  if (write && !(*pte & PTE_W)) {
    if (uvm_fault(p, va, PF_P | PF_W) != 0) return 0;
  }
  return (void *)((*pte & PTE_ADDR) | (va & (PAGE_SIZE - 1)));
}

/* Maps the built-in programs: text shared read-only from the image, data copied, bss zeroed.
   Returns the initial program break. */
uint64_t uvm_load_image(uint64_t pml4) {
  uint64_t text_lma = (uint64_t)__user_lma;
  for (uint64_t va = (uint64_t)__user_text_start; va < (uint64_t)__user_text_end; va += PAGE_SIZE)
    if (uvm_map(pml4, va, text_lma + (va - (uint64_t)__user_text_start), PTE_IMAGE) < 0) return 0;
  uint64_t data_lo = (uint64_t)__user_data_start, data_hi = (uint64_t)__user_data_end;
  uint64_t end = ((uint64_t)__user_bss_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  for (uint64_t va = data_lo & ~(PAGE_SIZE - 1); va < end; va += PAGE_SIZE) {
    uint64_t pa = page_alloc();
    if (!pa || uvm_map(pml4, va, pa, PTE_W) < 0) return 0;
    for (uint64_t b = va < data_lo ? data_lo : va; b < va + PAGE_SIZE && b < data_hi; b++)
      *(uint8_t *)(pa + (b - va)) = *(uint8_t *)((uint64_t)__user_data_lma + (b - data_lo));
  }
  return end;
}
