// An expected-result model of one EPT translation, written from the SDM text (Vol. 3C §29.3.2,
// §29.3.3.1, §29.3.3.2 and Table 28-7 of §28.2.1). It shares no code with src/: entries are
// bigints, every rule is spelled out again.

export interface ModelFeatures {
  maxPhyAddr: number;
  executeOnly: boolean;
  mbec: boolean;
  ad: boolean;
  advanced: boolean;
  pages2MB: boolean;
  pages1GB: boolean;
}

export interface ModelAccess {
  kind: 'read' | 'write' | 'fetch';
  /** An access to a guest paging-structure entry (not the final translation). */
  structure: boolean;
  /** For fetches and advanced info: the guest translation's U/S, R/W and XD. */
  userPage: boolean;
  guestWritable: boolean;
  guestXd: boolean;
}

export type ModelResult =
  | { outcome: 'ok'; hpa: bigint }
  | { outcome: 'violation'; qualification: number }
  | { outcome: 'misconfig'; causes: string[] };

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

/** The misconfiguration causes of one present entry (empty when it is well-formed). */
export function misconfigCauses(
  v: bigint,
  level: number,
  f: ModelFeatures,
): { causes: string[]; leaf: boolean } {
  const causes: string[] = [];
  const r = bit(v, 0);
  const w = bit(v, 1);
  const x = bit(v, 2);
  const xu = bit(v, 10);
  // "Bit 0 of the entry is clear (indicating that data reads are not allowed) and bit 1 is set"
  if (!r && w) causes.push('WRITE_WITHOUT_READ');
  // Execute-only: bits 1:0 clear with bit 2 set (or bit 10 with MBEC), unsupported.
  if (!f.executeOnly && !r && !w && (x || (f.mbec && xu))) causes.push('EXECUTE_ONLY');
  const ps = bit(v, 7);
  const leaf = level === 1 || ((level === 2 || level === 3) && ps);
  // Bits 51:MAXPHYADDR are reserved in every present entry.
  for (let b = f.maxPhyAddr; b <= 51; b++) if (bit(v, b)) causes.push('RESERVED');
  if (level >= 4) {
    for (let b = 3; b <= 7; b++) if (bit(v, b)) causes.push('RESERVED');
  } else if (level === 3 || level === 2) {
    if (!ps) {
      for (let b = 3; b <= 6; b++) if (bit(v, b)) causes.push('RESERVED');
    } else if ((level === 3 && !f.pages1GB) || (level === 2 && !f.pages2MB)) {
      causes.push('RESERVED');
    } else {
      const top = level === 3 ? 29 : 20;
      for (let b = 12; b <= top; b++) if (bit(v, b)) causes.push('RESERVED');
    }
  }
  if (leaf) {
    const type = Number((v >> 3n) & 7n);
    if (type === 2 || type === 3 || type === 7) causes.push('MEMORY_TYPE');
  }
  return { causes, leaf };
}

/** Translates `gpa` through the entries on its path (top-down from `top`, as read). */
export function modelTranslate(
  top: number,
  path: bigint[],
  gpa: bigint,
  access: ModelAccess,
  f: ModelFeatures,
): ModelResult {
  let and = -1n;
  let leafLevel = 0;
  let leafValue = 0n;
  for (let i = 0; i < path.length; i++) {
    const v = path[i]!;
    const level = top - i;
    and &= v;
    const present = (v & 7n) !== 0n || (f.mbec && bit(v, 10));
    if (!present) return { outcome: 'violation', qualification: qualification(and, access, f) };
    const m = misconfigCauses(v, level, f);
    if (m.causes.length > 0) return { outcome: 'misconfig', causes: m.causes };
    if (m.leaf) {
      leafLevel = level;
      leafValue = v;
      break;
    }
  }
  const treatedAsWrite = access.kind === 'write' || (access.structure && f.ad);
  let allowed: boolean;
  if (access.kind === 'fetch') allowed = f.mbec && access.userPage ? bit(and, 10) : bit(and, 2);
  else if (treatedAsWrite) allowed = bit(and, 1);
  else allowed = bit(and, 0);
  if (!allowed) return { outcome: 'violation', qualification: qualification(and, access, f) };
  const pageBits = leafLevel === 1 ? 12n : leafLevel === 2 ? 21n : 30n;
  const frame = leafValue & ((1n << 52n) - 1n) & ~((1n << pageBits) - 1n);
  return { outcome: 'ok', hpa: frame | (gpa & ((1n << pageBits) - 1n)) };
}

function qualification(and: bigint, a: ModelAccess, f: ModelFeatures): number {
  let q = 0;
  if (a.structure && f.ad)
    q |= 3; // treated as a write: bits 0 and 1 both set
  else if (a.kind === 'read') q |= 1;
  else if (a.kind === 'write') q |= 2;
  else q |= 4;
  if (bit(and, 0)) q |= 1 << 3;
  if (bit(and, 1)) q |= 1 << 4;
  if (bit(and, 2)) q |= 1 << 5;
  if (f.mbec && bit(and, 10)) q |= 1 << 6;
  q |= 1 << 7; // guest-linear address valid (no PDPTE loads here)
  if (!a.structure) {
    q |= 1 << 8;
    if (f.advanced) {
      if (a.userPage) q |= 1 << 9;
      if (a.guestWritable) q |= 1 << 10;
      if (a.guestXd) q |= 1 << 11;
    }
  }
  return q;
}
