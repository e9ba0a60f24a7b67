/**
 * The article's three measurable claims (docs/performance.md, "tandem bench"), each checked against
 * the run, pure: a verdict and the numbers behind it.
 */
import type { HeaderProfile } from './clients/headers';
import { pollCost, pushCost, type UnitCosts, type WindowCost } from './crossover';
import { bytes, interval, ms, num, rate } from './format';
import type { ClaimCheck, StrategyName, StrategyResult, Workload } from './report';

export interface ClaimInputs {
  workload: Workload;
  headerProfile: HeaderProfile;
  pollWithToken: boolean;
  results: Partial<Record<StrategyName, StrategyResult>>;
  windows: Partial<Record<StrategyName, WindowCost>>;
  costs: UnitCosts | undefined;
}

const CLAIMS = {
  headers: 'REST adds significant overhead: every request includes HTTP headers (typically 500-800 bytes).',
  users: "I've seen servers handle 30% more concurrent users simply by switching real-time features to WebSocket.",
  unlike: 'A server that handles 10,000 REST requests per second might struggle with 1,000 WebSocket connections.',
} as const;

/** A claim this run cannot judge: why, for the report's notes (it is left out of `claims`, not given a verdict). */
export interface Unchecked {
  id: ClaimCheck['id'];
  why: string;
}

function notMeasured(id: ClaimCheck['id'], claim: string, missing: string): Unchecked {
  return { id, why: `Not checked: "${claim}" needs ${missing}, which this run did not measure.` };
}

/** Bytes per poll in each direction of a window, and a 304's head estimated from poll-plain's 200s. */
function pollBytes(inputs: ClaimInputs): { request: number; answer304: number | undefined } | undefined {
  const etag = inputs.results['poll-etag'];
  const window = inputs.windows['poll-etag'];
  if (etag === undefined || window === undefined || etag.requests === 0) return undefined;
  const request = etag.bytes.clientToServer / etag.requests;
  const plain = inputs.results['poll-plain'];
  const seen = window.polls.ok + window.polls.notModified;
  if (plain === undefined || plain.requests === 0 || seen === 0 || window.polls.notModified === 0) return { request, answer304: undefined };
  const ok = (etag.requests * window.polls.ok) / seen;
  const answer200 = plain.bytes.serverToClient / plain.requests;
  return { request, answer304: (etag.bytes.serverToClient - ok * answer200) / (etag.requests - ok) };
}

export function headersClaim(inputs: ClaimInputs): ClaimCheck | Unchecked {
  const id = 'headers-500-800-bytes';
  const measured = pollBytes(inputs);
  if (measured === undefined) return notMeasured(id, CLAIMS.headers, 'poll-etag');
  const { request, answer304 } = measured;
  const roundTrip = answer304 === undefined ? undefined : request + answer304;
  const holds = request >= 500 && request <= 800 ? true : request > 800 || (roundTrip !== undefined && roundTrip >= 500) ? 'partly' : false;
  const who = `${inputs.headerProfile === 'browser' ? "a browser's headers (Chrome's user agent, client hints, sec-fetch-*)" : 'no browser headers (--headers=minimal)'}, ${inputs.pollWithToken ? 'a bearer token' : 'no token (--auth=none)'}`;
  const perMinute = (60_000 / inputs.workload.pollIntervalMs) * request;
  const push = inputs.results.websocket ?? inputs.results.sse;
  return {
    id,
    claim: CLAIMS.headers,
    holds,
    evidence: [
      `A poll's request measured ${num(request)} B at the socket over HTTP/1.1 (${who}).`,
      answer304 === undefined ? '' : `Its 304 answer's head: ${num(answer304)} B, so a poll that finds nothing new moves ${num(roundTrip!)} B.`,
      `At one poll every ${interval(inputs.workload.pollIntervalMs)}: ${bytes(perMinute)} of request headers a minute per client.`,
      push === undefined ? '' : `${push.strategy} moved ${num(push.bytesPerUpdate.serverToClient)} B down and ${num(push.bytesPerUpdate.clientToServer)} B up per update.`,
      'Over HTTP/2 (any browser on TLS), HPACK sends repeated headers as a few bytes each: this figure is the HTTP/1.1 cost.',
    ].filter(Boolean).join(' '),
  };
}

/** Server CPU per client-second of a strategy over its window (everything the server did, ms). */
function cpuPerClientSecond(result: StrategyResult, workload: Workload): number {
  return result.serverCpuMs / (workload.clients * workload.durationSeconds);
}

export function usersClaim(inputs: ClaimInputs): ClaimCheck | Unchecked {
  const id = 'push-holds-30pct-more-users';
  const poll = inputs.results['poll-etag'];
  const push = inputs.results.websocket ?? inputs.results.sse;
  if (poll === undefined || push === undefined) return notMeasured(id, CLAIMS.users, poll === undefined ? 'poll-etag' : 'a push strategy');
  const pollCpu = cpuPerClientSecond(poll, inputs.workload);
  const pushCpu = cpuPerClientSecond(push, inputs.workload);
  const ratio = pushCpu > 0 ? pollCpu / pushCpu : Number.POSITIVE_INFINITY;
  const holds = ratio >= 1.3 ? true : ratio > 1 ? 'partly' : false;
  const w = inputs.workload;
  return {
    id,
    claim: CLAIMS.users,
    holds,
    evidence: [
      `With ${num(w.clients)} clients watching a resource that changes ${rate(w.changesPerSecond)} (polled every ${interval(w.pollIntervalMs)}), the server spent ${ms(pollCpu)} of CPU per client-second on poll-etag and ${ms(pushCpu)} on ${push.strategy}:`,
      `${Number.isFinite(ratio) ? `${num(ratio, 2)}×` : 'unboundedly many'} the users per core with push (CPU-bound: ${ratio >= 1 ? '+' : ''}${num((ratio - 1) * 100)}%).`,
      `Memory per client (RSS; JS heap): ${bytes(push.serverMemoryPerClientBytes)}; ${bytes(push.serverHeapPerClientBytes ?? 0)} (${push.strategy}) vs ${bytes(poll.serverMemoryPerClientBytes)}; ${bytes(poll.serverHeapPerClientBytes ?? 0)} (poll-etag, a keep-alive connection each).`,
      'The ratio is this workload\'s: slower changes or faster polls favour push more, and the crossover shows where polling wins.',
    ].join(' '),
  };
}

export function unlikeThingsClaim(inputs: ClaimInputs): ClaimCheck | Unchecked {
  const id = 'rest-10k-vs-ws-1k';
  const ws = inputs.results.websocket;
  const costs = inputs.costs;
  if (ws === undefined || costs === undefined) return notMeasured(id, CLAIMS.unlike, ws === undefined ? 'websocket' : 'poll-etag and a push strategy');
  const w = inputs.workload;
  const capacity = inputs.results['poll-etag']?.capacity;
  // The cheapest a poll gets: answered in a batch at the server's limit (the probe), else at the workload's pace.
  const perPollMs = capacity !== undefined && capacity.serverCpuMsPerRequest > 0 ? capacity.serverCpuMsPerRequest : pollCost(costs, w.pollIntervalMs, w.changesPerSecond) * (w.pollIntervalMs / 1000);
  const restCores = (10_000 * perPollMs) / 1000;
  const clients = (10_000 * w.pollIntervalMs) / 1000;
  const pushCpu = (connections: number) => connections * pushCost(costs, w.changesPerSecond);
  const perConnection = Math.max(ws.serverMemoryPerClientBytes, ws.serverHeapPerClientBytes ?? 0);
  const memory = (connections: number) => connections * perConnection;
  const holds = pushCpu(1_000) > 10_000 * perPollMs ? true : memory(1_000) > 512 * 1024 * 1024 ? 'partly' : false;
  return {
    id,
    claim: CLAIMS.unlike,
    holds,
    evidence: [
      'Requests per second and open connections are unlike things; compared at the same freshness on this server:',
      capacity === undefined
        ? `a 304 cost ${ms(perPollMs)} of CPU at the workload's pace,`
        : `one core answered ${num(capacity.requestsPerSecond)} 304s/s back to back (${ms(capacity.serverCpuMsPerRequest)} of CPU each, ${num(capacity.serverCpuShare * 100)}% of a core busy; ${ms(costs.poll304Ms)} each at the workload's pace),`,
      `so 10,000 polls/s take ${num(restCores, 1)} cores at best and keep ${num(clients)} clients polling every ${interval(w.pollIntervalMs)} up to date.`,
      `The same ${num(clients)} clients on WebSocket, each change (${rate(w.changesPerSecond)}) pushed: ${ms(pushCpu(clients))} of CPU per second (${num(pushCpu(clients) / 10, 1)}% of a core) and ${bytes(memory(clients))};`,
      `1,000 WebSocket connections: ${ms(pushCpu(1_000))}/s and ${bytes(memory(1_000))}.`,
      `Held in this run: ${num(w.clients)} WebSocket connections at ${bytes(perConnection)} each (the larger of RSS and JS heap growth).`,
    ].join(' '),
  };
}

/** The claims this run can judge, each with its verdict; and why the others could not be. */
export function checkClaims(inputs: ClaimInputs): { claims: ClaimCheck[]; unchecked: Unchecked[] } {
  const all = [headersClaim(inputs), usersClaim(inputs), unlikeThingsClaim(inputs)];
  return { claims: all.filter((c): c is ClaimCheck => 'holds' in c), unchecked: all.filter((c): c is Unchecked => 'why' in c) };
}
