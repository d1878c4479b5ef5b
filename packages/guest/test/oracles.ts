// Independent TypeScript models of what each guest workload must print. They follow the
// workload definitions in the README, not the C code: node's zlib CRC-32, Array sort, Set.
import { crc32 } from 'node:zlib';

const MASK64 = (1n << 64n) - 1n;

function xorshift64(state: { s: bigint }): bigint {
  let x = state.s;
  x ^= (x << 13n) & MASK64;
  x ^= x >> 7n;
  x ^= (x << 17n) & MASK64;
  state.s = x;
  return x;
}

export interface ComputeExpectation {
  crc32: number;
  sorted: number;
  distinct: number;
  hits: number;
  matrix: number;
  checksum: number;
}

export function computeOracle(
  n: number,
  m: number,
  seed: number,
  iters: number,
): ComputeExpectation {
  let checksum = 0;
  let last: ComputeExpectation = {
    crc32: 0,
    sorted: 0,
    distinct: 0,
    hits: 0,
    matrix: 0,
    checksum: 0,
  };
  for (let it = 0; it < iters; it++) {
    const state = { s: 0x9e3779b97f4a7c15n ^ BigInt(seed + it) };
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) a[i] = Number(xorshift64(state) >> 32n);
    const crc = crc32(new Uint8Array(a.buffer)) >>> 0;
    a.sort();
    let sorted = 0;
    for (let i = 0; i < n; i++) sorted = (sorted + ((a[i] as number) ^ i)) >>> 0;
    const set = new Set<number>();
    for (let i = 0; i < n; i++) set.add(Number(xorshift64(state) >> 48n));
    let hits = 0;
    for (let i = 0; i < n; i++) if (set.has(Number(xorshift64(state) >> 48n))) hits++;
    const ma = new Uint32Array(m * m);
    const mb = new Uint32Array(m * m);
    for (let i = 0; i < m * m; i++) {
      ma[i] = Number(xorshift64(state) >> 40n);
      mb[i] = Number(xorshift64(state) >> 40n);
    }
    let matrix = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        let acc = 0;
        for (let k = 0; k < m; k++)
          acc = (acc + Math.imul(ma[i * m + k] as number, mb[k * m + j] as number)) >>> 0;
        matrix = (Math.imul(matrix, 31) + acc) >>> 0;
      }
    checksum = (checksum ^ crc ^ sorted ^ ((set.size << 16) >>> 0) ^ hits ^ matrix) >>> 0;
    checksum = ((checksum << 1) | (checksum >>> 31)) >>> 0;
    last = { crc32: crc, sorted, distinct: set.size, hits, matrix, checksum };
  }
  return { ...last, checksum };
}

/** kbuild: each child sees the parent's shared markers (j), never a sibling's: copy-on-write. */
export function kbuildOracle(tasks: number, pages: number): number {
  let total = 0;
  for (let i = 0; i < tasks; i++) {
    let sum = 0;
    for (let k = 0; k < pages; k++) sum += (i + k) & 0xff;
    for (let j = 0; j < 16; j++) sum += j + ((j + i + 1) & 0xff);
    total += sum & 0x7f;
  }
  return total;
}

export function webOracle(requests: number, size: number): number {
  let total = 0;
  for (let i = 0; i < requests; i++) {
    let h = 0x811c9dc5;
    for (let k = 0; k < size; k++) h = Math.imul(h ^ ((i * 31 + k) & 0xff), 0x01000193) >>> 0;
    total += h & 0xff;
  }
  return total;
}

export function memdirtyOracle(
  mb: number,
  passes: number,
  stride: number,
): { pages: number; dirtied: number; checksum: number } {
  const pages = mb * 256;
  const perPage = Math.ceil(4096 / stride);
  return { pages, dirtied: pages * passes, checksum: pages * perPage * (passes % 256) };
}
