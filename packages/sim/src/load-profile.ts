import { deepFreeze, defaultProfile } from './default-profile.js';
import { SimError } from './errors.js';
import {
  CACHE_LEVELS,
  type CostProfile,
  type Figure,
  SOURCE_KINDS,
  type SourceKind,
} from './profile.js';

/**
 * Units whose figures must be strictly positive (a zero clock or link rate would divide by 0;
 * a cache of zero bytes, ways or share has no sets).
 */
const POSITIVE_UNITS = new Set([
  'Hz',
  'bit/s',
  'bytes/cycle',
  'weight',
  'bytes',
  'ways',
  'fraction',
]);
/** Units whose values may be fractional. */
const FRACTIONAL_UNITS = new Set(['bytes/cycle', 'fraction']);
/** Cycle figures that must be strictly positive: a zero slice or period would never advance. */
const POSITIVE_PATHS = new Set(['scheduler.timeSlice', 'scheduler.accountingPeriod']);

function bad(field: string, message: string): SimError {
  return new SimError('INVALID_PROFILE', `profile field ${field}: ${message}`, field);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isFigureTemplate(v: unknown): v is Figure {
  return isRecord(v) && 'value' in v && 'unit' in v && 'source' in v;
}

function checkKeys(value: Record<string, unknown>, template: object, path: string): void {
  for (const key of Object.keys(template)) {
    if (!Object.hasOwn(value, key)) throw bad(path ? `${path}.${key}` : key, 'is missing');
  }
  for (const key of Object.keys(value)) {
    // Own keys only: `__proto__` or `constructor` in a JSON file are unknown fields, not inherited ones.
    if (!Object.hasOwn(template, key))
      throw bad(path ? `${path}.${key}` : key, 'is not a known field');
  }
}

function checkFigure(value: unknown, template: Figure, path: string): void {
  if (!isRecord(value)) throw bad(path, 'must be an object {value, unit, source}');
  checkKeys(value, template, path);
  const v = value.value;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw bad(`${path}.value`, `must be a finite non-negative number, got ${String(v)}`);
  }
  if (value.unit !== template.unit) {
    throw bad(`${path}.unit`, `must be '${template.unit}', got ${JSON.stringify(value.unit)}`);
  }
  // Cycles, weights, clocks and link rates are integers so that conversions stay exact.
  if (!FRACTIONAL_UNITS.has(template.unit) && !Number.isSafeInteger(v)) {
    throw bad(`${path}.value`, `must be an integer number of ${template.unit}, got ${v}`);
  }
  if ((POSITIVE_UNITS.has(template.unit) || POSITIVE_PATHS.has(path)) && v === 0) {
    throw bad(`${path}.value`, 'must be greater than 0');
  }
  if (template.unit === 'fraction' && v > 1) {
    throw bad(`${path}.value`, `must be a fraction in (0, 1], got ${v}`);
  }
  const source = value.source;
  if (!isRecord(source)) throw bad(`${path}.source`, 'must be an object {kind, ref}');
  checkKeys(source, template.source, `${path}.source`);
  if (!SOURCE_KINDS.includes(source.kind as SourceKind)) {
    throw bad(`${path}.source.kind`, `must be one of ${SOURCE_KINDS.join(', ')}`);
  }
  if (typeof source.ref !== 'string' || source.ref.trim() === '') {
    throw bad(`${path}.source.ref`, 'must say where the figure comes from');
  }
}

function checkNode(value: unknown, template: unknown, path: string): void {
  if (isFigureTemplate(template)) return checkFigure(value, template, path);
  if (typeof template === 'string') {
    if (typeof value !== 'string') throw bad(path, 'must be a string');
    return;
  }
  if (!isRecord(value)) throw bad(path, 'must be an object');
  if (path === 'links') {
    // An open record: any link name, each shaped like the default's first link.
    const linkTemplate = Object.values(defaultProfile.links)[0];
    for (const [name, link] of Object.entries(value)) {
      if (name === '') throw bad('links', 'a link name must not be empty');
      checkNode(link, linkTemplate, `links.${name}`);
    }
    return;
  }
  checkKeys(value, template as object, path);
  for (const key of Object.keys(template as object)) {
    checkNode(
      value[key],
      (template as Record<string, unknown>)[key],
      path ? `${path}.${key}` : key,
    );
  }
}

/** The most lines one cache level may hold: 128 MiB of 64-byte lines, beyond any real cache. */
const MAX_CACHE_LINES = 2 ** 21;

/**
 * Cache geometry that the model can build: power-of-two lines of one size at every level, and
 * each size a whole number of sets (associativity x line size).
 */
function checkCaches(profile: CostProfile): void {
  const lineSize = profile.memory.caches.l1.lineSize.value;
  for (const level of CACHE_LEVELS) {
    const c = profile.memory.caches[level];
    const path = `memory.caches.${level}`;
    const line = c.lineSize.value;
    if (!Number.isInteger(Math.log2(line))) {
      throw bad(`${path}.lineSize.value`, `must be a power of two, got ${line}`);
    }
    if (line !== lineSize) {
      throw bad(`${path}.lineSize.value`, `must equal memory.caches.l1.lineSize (${lineSize})`);
    }
    const set = c.associativity.value * line;
    if (c.size.value % set !== 0) {
      throw bad(
        `${path}.size.value`,
        `must be a whole number of sets (associativity x line size = ${set} bytes), got ${c.size.value}`,
      );
    }
    if (c.size.value / line > MAX_CACHE_LINES) {
      throw bad(`${path}.size.value`, `must hold at most ${MAX_CACHE_LINES} lines`);
    }
  }
}

/**
 * Validates a cost profile read from JSON (or built in code) and returns a deeply frozen copy.
 * Every field of {@link CostProfile} is required and no unknown field is accepted, so a typo is
 * an error rather than a silently ignored figure. Units must match the default profile's, cycle
 * figures, weights, clocks, link rates and cache geometry must be integers, and rates, clocks,
 * weights, slices, periods and cache figures must be positive. The page-table share is a fraction
 * in (0, 1]; cache lines are a power of two of one size at every level and each cache size is a
 * whole number of sets.
 *
 * @param input - the parsed JSON value
 * @returns the validated, frozen profile
 * @throws {@link SimError} `INVALID_PROFILE` whose `field` is the dotted path of the first bad field
 * @example
 * ```ts
 * const custom = loadProfile(JSON.parse(readFileSync('profile.json', 'utf8')));
 * ```
 */
export function loadProfile(input: unknown): CostProfile {
  if (!isRecord(input)) throw bad('(root)', 'a profile must be a JSON object');
  checkNode(input, defaultProfile, '');
  checkCaches(input as unknown as CostProfile);
  return deepFreeze(structuredClone(input)) as unknown as CostProfile;
}

/**
 * Returns a copy of `base` with some figures' values replaced, each with a new source; the
 * result is validated like {@link loadProfile}. Use it to derive an experiment's profile.
 *
 * @param base - the profile to start from
 * @param name - the new profile's name
 * @param changes - dotted figure paths (e.g. `vmexit.roundTrip`) mapped to a value and source
 * @returns the validated, frozen profile
 * @throws {@link SimError} `INVALID_PROFILE` if a path does not name a figure or a value is bad
 * @example
 * ```ts
 * const slowExits = withFigures(defaultProfile, 'slow-exits', {
 *   'vmexit.roundTrip': { value: 2400, source: { kind: 'assumption', ref: 'older CPU' } },
 * });
 * ```
 */
export function withFigures(
  base: CostProfile,
  name: string,
  changes: Readonly<Record<string, Pick<Figure, 'value' | 'source'>>>,
): CostProfile {
  const copy = structuredClone(base) as unknown as Record<string, unknown>;
  copy.name = name;
  for (const [path, change] of Object.entries(changes)) {
    const parts = path.split('.');
    let node: unknown = copy;
    for (const part of parts) node = isRecord(node) ? node[part] : undefined;
    if (!isFigureTemplate(node)) throw bad(path, 'does not name a figure');
    const figure = node as unknown as Record<string, unknown>;
    figure.value = change.value;
    figure.source = change.source;
  }
  return loadProfile(copy);
}
