import { deepFreeze, defaultProfile } from './default-profile.js';
import { SimError } from './errors.js';
import { type CostProfile, type Figure, SOURCE_KINDS, type SourceKind } from './profile.js';

/** Units whose figures must be strictly positive (a zero clock or link rate would divide by 0). */
const POSITIVE_UNITS = new Set(['Hz', 'bit/s', 'bytes/cycle', 'weight']);
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
  if (template.unit !== 'bytes/cycle' && !Number.isSafeInteger(v)) {
    throw bad(`${path}.value`, `must be an integer number of ${template.unit}, got ${v}`);
  }
  if ((POSITIVE_UNITS.has(template.unit) || POSITIVE_PATHS.has(path)) && v === 0) {
    throw bad(`${path}.value`, 'must be greater than 0');
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

/**
 * Validates a cost profile read from JSON (or built in code) and returns a deeply frozen copy.
 * Every field of {@link CostProfile} is required and no unknown field is accepted, so a typo is
 * an error rather than a silently ignored figure. Units must match the default profile's, cycle
 * figures, weights, clocks and link rates must be integers, and rates, clocks, weights, slices and periods must be positive.
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
