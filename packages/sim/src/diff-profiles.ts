import type { CostProfile, Figure, FigureSource } from './profile.js';

/** One figure that differs between two profiles (see {@link diffProfiles}). */
export interface ProfileDifference {
  /** Dotted path of the figure, e.g. `vmexit.handlers.io`. */
  readonly path: string;
  /** The value in the first profile, or `undefined` if only the second has the figure. */
  readonly a: number | undefined;
  /** The value in the second profile, or `undefined` if only the first has the figure. */
  readonly b: number | undefined;
  /** `b / a` when both exist and `a` is not 0. */
  readonly ratio: number | undefined;
  /** Source in the first profile. */
  readonly sourceA: FigureSource | undefined;
  /** Source in the second profile. */
  readonly sourceB: FigureSource | undefined;
}

function isFigure(v: unknown): v is Figure {
  return v !== null && typeof v === 'object' && 'value' in v && 'unit' in v && 'source' in v;
}

/**
 * Every figure of a profile by dotted path, in a stable (sorted) order.
 *
 * @param profile - the profile to flatten
 * @returns `[path, figure]` pairs sorted by path
 */
export function profileFigures(profile: CostProfile): [string, Figure][] {
  const out: [string, Figure][] = [];
  const walk = (node: unknown, path: string): void => {
    if (isFigure(node)) {
      out.push([path, node]);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(profile, '');
  return out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

/**
 * Lists the figures whose value or source differs between two profiles, sorted by path, so an
 * experiment report can say exactly which assumptions it changed.
 *
 * @param a - the first profile (e.g. the default)
 * @param b - the second profile
 * @returns one entry per differing figure; empty when the figures are identical
 * @example
 * ```ts
 * for (const d of diffProfiles(defaultProfile, mine)) console.log(d.path, d.a, '->', d.b);
 * ```
 */
export function diffProfiles(a: CostProfile, b: CostProfile): ProfileDifference[] {
  const fa = new Map(profileFigures(a));
  const fb = new Map(profileFigures(b));
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const out: ProfileDifference[] = [];
  for (const path of paths) {
    const x = fa.get(path);
    const y = fb.get(path);
    const same =
      x !== undefined &&
      y !== undefined &&
      x.value === y.value &&
      x.source.kind === y.source.kind &&
      x.source.ref === y.source.ref;
    if (same) continue;
    out.push({
      path,
      a: x?.value,
      b: y?.value,
      ratio: x !== undefined && y !== undefined && x.value !== 0 ? y.value / x.value : undefined,
      sourceA: x?.source,
      sourceB: y?.source,
    });
  }
  return out;
}
