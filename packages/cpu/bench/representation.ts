// Micro-benchmarks behind the register-file and flags choices (README "Representation").
// Each body runs the same operation mix over 16 registers, once per representation.
import { emit, opsPerSecond } from '@vmkit/test-kit';

const N = 4096;
let sink = 0;

/** 64-bit registers as hi/lo halves in two Uint32Arrays (what the CPU uses). */
function halves(): void {
  const lo = new Uint32Array(16);
  const hi = new Uint32Array(16);
  for (let i = 0; i < 16; i++) {
    lo[i] = i * 0x9e3779b9;
    hi[i] = i * 0x7f4a7c15;
  }
  const body = (): void => {
    for (let k = 0; k < N; k++) {
      const a = k & 15;
      const b = (k + 5) & 15;
      // add
      const l = lo[a]! + lo[b]!;
      lo[a] = l;
      hi[a] = hi[a]! + hi[b]! + (l > 0xffffffff ? 1 : 0);
      // xor
      lo[b] = lo[b]! ^ lo[a]!;
      hi[b] = hi[b]! ^ hi[a]!;
      // shl 3
      hi[a] = (hi[a]! << 3) | (lo[a]! >>> 29);
      lo[a] = lo[a]! << 3;
      // compare
      if ((lo[a]! | hi[a]!) === 0) sink++;
    }
  };
  emit({ metric: 'repr.u32-halves', value: opsPerSecond(body, N * 4), unit: 'ops/s' });
}

/** 64-bit registers as bigints in a BigUint64Array. */
function bigints(): void {
  const r = new BigUint64Array(16);
  for (let i = 0; i < 16; i++) r[i] = BigInt(i) * 0x9e3779b97f4a7c15n;
  const body = (): void => {
    for (let k = 0; k < N; k++) {
      const a = k & 15;
      const b = (k + 5) & 15;
      r[a] = r[a]! + r[b]!;
      r[b] = r[b]! ^ r[a]!;
      r[a] = r[a]! << 3n;
      if (r[a] === 0n) sink++;
    }
  };
  emit({ metric: 'repr.biguint64array', value: opsPerSecond(body, N * 4), unit: 'ops/s' });
}

/** 64-bit registers as bigints in a plain array, masked with BigInt.asUintN. */
function bigintArray(): void {
  const r: bigint[] = [];
  for (let i = 0; i < 16; i++) r.push(BigInt(i) * 0x9e3779b97f4a7c15n);
  const body = (): void => {
    for (let k = 0; k < N; k++) {
      const a = k & 15;
      const b = (k + 5) & 15;
      r[a] = BigInt.asUintN(64, r[a]! + r[b]!);
      r[b] = r[b]! ^ r[a]!;
      r[a] = BigInt.asUintN(64, r[a]! << 3n);
      if (r[a] === 0n) sink++;
    }
  };
  emit({ metric: 'repr.bigint-array', value: opsPerSecond(body, N * 4), unit: 'ops/s' });
}

/**
 * The same registers behind an interpreter-shaped dispatch: four handlers called through an
 * array (so they are not inlined into one loop), an effective-address computation that must
 * become a number to index memory, and a variable shift count.
 */
function dispatched(): void {
  const lo = new Uint32Array(16);
  const hi = new Uint32Array(16);
  const r = new BigUint64Array(16);
  const mem = new Uint32Array(1 << 16);
  for (let i = 0; i < 16; i++) {
    lo[i] = (i * 0x9e37) & 0xfff;
    r[i] = BigInt(lo[i]!);
  }
  const h32: ((a: number, b: number) => void)[] = [
    (a, b) => {
      const l = lo[a]! + lo[b]!;
      lo[a] = l;
      hi[a] = hi[a]! + hi[b]! + (l > 0xffffffff ? 1 : 0);
    },
    (a, b) => {
      lo[a] = lo[a]! ^ lo[b]!;
      hi[a] = hi[a]! ^ hi[b]!;
    },
    (a, b) => {
      const n = b & 31;
      if (n !== 0) {
        hi[a] = (hi[a]! >>> n) | 0;
        lo[a] = (lo[a]! >>> n) | (hi[a]! << (32 - n));
      }
    },
    (a, b) => {
      // mov reg, [base + index*4 + 8]: 64-bit EA, then a number for the memory index
      const l = lo[a]! + lo[b]! * 4 + 8;
      const h = hi[a]! + hi[b]! * 4 + Math.floor(l / 4294967296);
      lo[b] = mem[((h * 4294967296 + (l >>> 0)) >>> 2) & 0xffff]!;
      hi[b] = 0;
    },
  ];
  const hBig: ((a: number, b: number) => void)[] = [
    (a, b) => {
      r[a] = r[a]! + r[b]!;
    },
    (a, b) => {
      r[a] = r[a]! ^ r[b]!;
    },
    (a, b) => {
      r[a] = r[a]! >> BigInt(b & 31);
    },
    (a, b) => {
      const ea = BigInt.asUintN(64, r[a]! + r[b]! * 4n + 8n);
      r[b] = BigInt(mem[(Number(ea) >>> 2) & 0xffff]!);
    },
  ];
  const run = (h: ((a: number, b: number) => void)[]) => (): void => {
    for (let k = 0; k < N; k++) h[k & 3]!(k & 15, (k * 7) & 15);
  };
  emit({ metric: 'repr.dispatched.u32-halves', value: opsPerSecond(run(h32), N), unit: 'ops/s' });
  emit({
    metric: 'repr.dispatched.biguint64array',
    value: opsPerSecond(run(hBig), N),
    unit: 'ops/s',
  });
}

const PARITY = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  let p = 1;
  for (let b = v; b; b >>= 1) p ^= b & 1;
  PARITY[v] = p << 2;
}

/**
 * Flags: an ADD/SUB/CMP stream where one instruction in four is a Jcc reading ZF or CF, as in
 * compiled loops. Eager computes all six status flags per instruction; lazy records the
 * operation and operands and evaluates only the flag a reader asks for.
 */
function flags(): void {
  const vals = new Uint32Array(N);
  for (let k = 0; k < N; k++) vals[k] = (k * 2654435761) >>> 0;
  const eager = (): void => {
    let f = 0;
    let acc = 1;
    for (let k = 0; k < N; k++) {
      const a = acc;
      const b = vals[k]!;
      const r = a + b;
      const res = r >>> 0;
      f =
        (f & ~0x8d5) |
        (r > 0xffffffff ? 1 : 0) |
        PARITY[res & 0xff]! |
        ((a ^ b ^ res) & 0x10) |
        (res === 0 ? 0x40 : 0) |
        (res & 0x80000000 ? 0x80 : 0) |
        ((a ^ res) & (b ^ res) & 0x80000000 ? 0x800 : 0);
      acc = res;
      if ((k & 3) === 3 && (f & 0x41) !== 0) sink++;
    }
  };
  const lazy = (): void => {
    let lop = 0;
    let la = 0;
    let lb = 0;
    let lr = 0;
    let acc = 1;
    for (let k = 0; k < N; k++) {
      const a = acc;
      const b = vals[k]!;
      const r = a + b;
      lop = 1;
      la = a;
      lb = b;
      lr = r;
      acc = r >>> 0;
      if ((k & 3) === 3) {
        const zf = lr >>> 0 === 0;
        const cf = lop === 1 ? lr > 0xffffffff : la < lb;
        if (zf || cf) sink++;
      }
    }
  };
  emit({ metric: 'flags.eager', value: opsPerSecond(eager, N), unit: 'ops/s' });
  emit({ metric: 'flags.lazy', value: opsPerSecond(lazy, N), unit: 'ops/s' });
}

/** Runs the representation micro-benchmarks. */
export function representationBenches(): void {
  halves();
  bigints();
  bigintArray();
  dispatched();
  flags();
  if (sink === -1) console.log(sink);
}
