/**
 * A feature as `tandem advise` sees it: the answers to the questions that decide how its data
 * should travel, and the parsers that turn a flag value, a JSON field or a typed answer into one.
 * One parser per answer, so a flag, a file and a prompt accept the same spellings.
 */

/** Who starts the traffic: the server pushes data out, clients send data in, or both (chat). */
export type Initiator = 'server' | 'client' | 'both';
/** public: the same answer for everyone (a CDN may keep it); private: per user; none: never reusable. */
export type Cacheability = 'public' | 'private' | 'none';

export interface Feature {
  name: string;
  initiator: Initiator;
  /** How often the data one client watches changes, per minute; for `client` features, how often each client sends. */
  changesPerMinute: number;
  /** Clients using the feature at the same time. */
  clients: number;
  /** How stale a client's copy may be, in milliseconds (unused for `client` features). */
  freshnessMs: number;
  cache: Cacheability;
  /** Bytes of one update (the JSON body or event). */
  payloadBytes: number;
}

/** A wrong answer; the message says what is expected. The caller adds where it came from (a flag, a file, a prompt). */
export class AnswerError extends Error {
  override name = 'AnswerError';
}

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;

function plainNumber(raw: string): number {
  return Number(raw.replace(/[_,]/g, ''));
}

/** "30" (per minute), "0.5/s", "2/h", "1/d", "10/min" → changes per minute. */
export function parseRate(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*(?:/\\s*(s|sec|second|m|min|minute|h|hour|d|day))?$`, 'i').exec(raw.trim().replace(/[_,]/g, ''));
  if (!m) throw new AnswerError('must be changes per minute, e.g. 30, or with a unit: 0.5/s, 2/h, 1/d');
  const perUnit = Number(m[1]);
  const unit = (m[2] ?? 'min').toLowerCase();
  const perMinute = unit.startsWith('s') ? perUnit * 60 : unit.startsWith('h') ? perUnit / 60 : unit.startsWith('d') ? perUnit / 1440 : perUnit;
  if (!Number.isFinite(perMinute)) throw new AnswerError('must be a finite rate');
  return perMinute;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "500ms", "2s", "1.5 s", "1m", "1h" → milliseconds (a unit is required: "2" is ambiguous). */
export function parseDuration(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*(ms|s|sec|m|min|h)$`, 'i').exec(raw.trim());
  if (!m) throw new AnswerError('must be a duration with its unit, e.g. 500ms, 2s, 1m or 1h');
  const ms = Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  if (!(ms > 0)) throw new AnswerError('must be more than 0');
  return ms;
}

/** "1000", "1,000", "10k", "1.5m" → a whole number ≥ 1. */
export function parseCount(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*([km])?$`, 'i').exec(raw.trim().replace(/[_,]/g, ''));
  if (!m) throw new AnswerError('must be a whole number, e.g. 1000, 10k or 1.5m');
  const n = Number(m[1]) * (m[2]?.toLowerCase() === 'k' ? 1e3 : m[2]?.toLowerCase() === 'm' ? 1e6 : 1);
  if (!Number.isInteger(n) || n < 1) throw new AnswerError('must be a whole number of at least 1');
  return n;
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2 };

/** "800", "4KiB", "2 kB", "1MiB" → bytes, at least 1. */
export function parseBytes(raw: string): number {
  const m = new RegExp(`^${NUMBER}\\s*(b|kb|kib|mb|mib)?$`, 'i').exec(raw.trim().replace(/[_,]/g, ''));
  if (!m) throw new AnswerError('must be a size in bytes, e.g. 800, 4KiB or 2kB');
  const n = Math.round(Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
  if (n < 1) throw new AnswerError('must be at least 1 byte');
  return n;
}

function oneOf<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    const value = raw.trim().toLowerCase();
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new AnswerError(`must be one of ${choices.join(', ')}`);
  };
}

export const parseInitiator = oneOf<Initiator>(['server', 'client', 'both']);
export const parseCache = oneOf<Cacheability>(['public', 'private', 'none']);

/** A feature's name: what the output calls it. */
export function parseName(raw: string): string {
  const name = raw.trim();
  if (name === '' || name.length > 60 || /[\u0000-\u001f\u007f]/.test(name)) throw new AnswerError('must be a name of 1 to 60 printable characters');
  return name;
}

/** One question: its flag, its key in a --features file, its parser and how a value is shown back. */
export interface Question<K extends keyof Feature = keyof Feature> {
  key: K;
  flag: string;
  parse(raw: string): Feature[K];
  show(value: Feature[K]): string;
}

function question<K extends keyof Feature>(key: K, flag: string, parse: (raw: string) => Feature[K], show: (value: Feature[K]) => string): Question<K> {
  return { key, flag, parse, show };
}

const grouped = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 3 });

/** Shows a duration the way parseDuration reads it back. */
export function showDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Every answer, in the order they are asked. The name comes from --feature. */
export const QUESTIONS = {
  name: question('name', 'feature', parseName, (v) => v),
  initiator: question('initiator', 'initiator', parseInitiator, (v) => v),
  changesPerMinute: question('changesPerMinute', 'changes-per-minute', parseRate, (v) => grouped(v)),
  clients: question('clients', 'clients', parseCount, (v) => grouped(v)),
  freshnessMs: question('freshnessMs', 'freshness', parseDuration, showDuration),
  cache: question('cache', 'cache', parseCache, (v) => v),
  payloadBytes: question('payloadBytes', 'payload-bytes', parseBytes, (v) => String(v)),
} satisfies { [K in keyof Feature]: Question<K> };

/** Answers every feature gets unless told otherwise. Rate, initiator and freshness have none: they decide. */
export const DEFAULT_ANSWERS = { clients: 1000, cache: 'private', payloadBytes: 1024 } as const satisfies Partial<Feature>;

/** What a `client` feature does not need: freshness and caching play no part for data sent to the server. */
export const CLIENT_FEATURE_FILL = { freshnessMs: 1000, cache: 'none' } as const satisfies Partial<Feature>;

/** The answers a feature still lacks (name aside). */
export function missingAnswers(partial: Partial<Feature>): (keyof Feature)[] {
  const needed: (keyof Feature)[] = ['initiator', 'changesPerMinute', 'freshnessMs'];
  return needed.filter((key) => partial[key] === undefined && !(key === 'freshnessMs' && partial.initiator === 'client'));
}

/** A complete feature from answers with nothing missing (see missingAnswers); defaults fill the rest. */
export function completeFeature(partial: Partial<Feature> & Pick<Feature, 'name' | 'initiator' | 'changesPerMinute'>): Feature {
  const fill = partial.initiator === 'client' ? CLIENT_FEATURE_FILL : {};
  const given = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_ANSWERS, ...fill, ...given } as Feature;
}
