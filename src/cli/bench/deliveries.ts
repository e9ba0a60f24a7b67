/**
 * From what the clients saw (observations.ts) and when the server began each change (its commit
 * log), pure: which changes reached which client and how late, and which polls were stale reads.
 *
 * - A change of a resource *reaches* a client when the client first holds a version that
 *   includes it (the version it made, or a later one: a poll that skips versions brings their
 *   effect too). Its latency is that moment minus the moment the server began the change.
 * - Counted: changes begun within the measured window (server clock), wherever they arrived
 *   later (the drain after the window lets the last polls come back).
 * - A *stale read* is a poll answered during the window whose answer, when it reached the client,
 *   carried an older version than the newest the server had begun by then.
 */
import type { CommitLog } from './control-api';
import { PUSHED, type Observations } from './observations';

export interface DeliveryInput {
  log: CommitLog;
  /** The resource id each client watches, by client number. */
  itemOfClient: readonly number[];
  observations: Observations;
  /** Server clock minus client clock, µs. */
  clockOffset: number;
  /** The measured window, server clock, µs. */
  windowStart: number;
  windowEnd: number;
}

export interface DeliveryResult {
  changes: number;
  expected: number;
  delivered: number;
  /** One per delivery, ms. */
  latenciesMs: number[];
  staleReads: number;
  /** Poll answers received during the window, by status. */
  polls: { ok: number; notModified: number };
}

type Entry = CommitLog['items'][number];

/** Index of the first `at` ≥ t (or > t when `strict`); `at` is ascending. */
function firstAtOrAfter(at: readonly number[], t: number, strict = false): number {
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at[mid]! < t || (strict && at[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Changes of `entry` begun within [start, end]. */
function inWindow(entry: Entry, start: number, end: number): number {
  return firstAtOrAfter(entry.at, end, true) - firstAtOrAfter(entry.at, start);
}

export function analyzeDeliveries(input: DeliveryInput): DeliveryResult {
  const { log, itemOfClient, observations, clockOffset, windowStart, windowEnd } = input;
  const entries = new Map(log.items.map((e) => [e.id, e]));
  const result: DeliveryResult = { changes: 0, expected: 0, delivered: 0, latenciesMs: [], staleReads: 0, polls: { ok: 0, notModified: 0 } };
  for (const entry of log.items) result.changes += inWindow(entry, windowStart, windowEnd);
  for (const id of itemOfClient) {
    const entry = entries.get(id);
    if (entry !== undefined) result.expected += inWindow(entry, windowStart, windowEnd);
  }
  const held = new Array<number>(itemOfClient.length).fill(0);
  for (let i = 0; i < observations.length; i += 1) {
    const client = observations.client(i);
    const entry = entries.get(itemOfClient[client]!);
    if (entry === undefined) continue;
    const at = observations.time(i) + clockOffset;
    const status = observations.status(i);
    const version = status === 304 ? held[client]! : observations.version(i);
    if (status !== PUSHED && at >= windowStart && at <= windowEnd) {
      if (status === 304) result.polls.notModified += 1;
      else result.polls.ok += 1;
      // The newest version begun strictly before the answer arrived.
      const newest = entry.firstVersion + firstAtOrAfter(entry.at, at) - 1;
      if (newest > version) result.staleReads += 1;
    }
    if (version > held[client]!) {
      reach(entry, held[client]!, version, at, input, result);
      held[client] = version;
    }
  }
  return result;
}

/** Counts the window's changes among versions (from, to] as delivered at `at`. */
function reach(entry: Entry, from: number, to: number, at: number, input: DeliveryInput, result: DeliveryResult): void {
  const first = Math.max(from + 1 - entry.firstVersion, firstAtOrAfter(entry.at, input.windowStart));
  const last = Math.min(to - entry.firstVersion, entry.at.length - 1);
  for (let k = first; k <= last; k += 1) {
    const begun = entry.at[k]!;
    if (begun > input.windowEnd) break;
    result.delivered += 1;
    result.latenciesMs.push(Math.max(0, (at - begun) / 1000));
  }
}
