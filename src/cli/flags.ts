/**
 * Command-line flags, the conventional way: `--name=value` or `--name value`, `--flag` and
 * `--no-flag` for booleans, `-h` for `--help`, `--` ends the flags. Every mistake is a UsageError
 * naming the flag (exit code 2), with a suggestion for a misspelt one.
 */
import { UsageError } from './io';

export type FlagKind = 'boolean' | 'string' | 'integer' | 'number';

export interface FlagSpec {
  kind: FlagKind;
  /** For numbers: the inclusive range. */
  min?: number;
  max?: number;
  /** For strings: the accepted values. */
  choices?: readonly string[];
}

export type FlagValue = string | number | boolean;

export interface ParsedFlags {
  values: Map<string, FlagValue>;
  positionals: string[];
}

/** Parses `argv` against `specs` (flag name without dashes → spec). */
export function parseFlags(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>): ParsedFlags {
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      values.set('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg} (options are spelt --name or --name=value)`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const negated = name.startsWith('no-') && specs[name] === undefined ? name.slice(3) : undefined;
    const spec = specs[negated ?? name];
    if (spec === undefined) throw new UsageError(`unknown option --${name}${suggest(name, Object.keys(specs))}`);
    if (negated !== undefined) {
      if (spec.kind !== 'boolean' || eq !== -1) throw new UsageError(`--no-${negated} takes no value and only negates a yes/no option`);
      values.set(negated, false);
      continue;
    }
    if (spec.kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value (use --${name} or --no-${name})`);
      values.set(name, true);
      continue;
    }
    let raw: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (raw === undefined) {
      raw = argv[i + 1];
      if (raw === undefined || raw.startsWith('--')) throw new UsageError(`--${name} needs a value (--${name}=VALUE)`);
      i += 1;
    }
    values.set(name, convert(name, raw, spec));
  }
  return { values, positionals };
}

function convert(name: string, raw: string, spec: FlagSpec): FlagValue {
  if (spec.kind === 'string') {
    if (raw === '') throw new UsageError(`--${name} needs a value`);
    if (spec.choices !== undefined && !spec.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}; got ${JSON.stringify(raw)}`);
    return raw;
  }
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  const what = spec.kind === 'integer' ? 'a whole number' : 'a number';
  if (!Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) throw new UsageError(`--${name} must be ${what}; got ${JSON.stringify(raw)}`);
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    throw new UsageError(`--${name} must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}; got ${raw}`);
  }
  return value;
}

/** ", did you mean --x?" for the closest known name within two edits, else "". */
function suggest(name: string, known: string[]): string {
  const best = closestName(name, known);
  return best === undefined || best.distance > 2 ? ' (see --help)' : `; did you mean --${best.name}?`;
}

/** The known name fewest edits (insertions, deletions, substitutions) away from `name`; the first of equals. */
export function closestName(name: string, known: readonly string[]): { name: string; distance: number } | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < (best?.distance ?? Infinity)) best = { name: candidate, distance };
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = current;
  }
  return previous[b.length]!;
}
