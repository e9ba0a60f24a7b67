import type { CostModel } from './cost-model';
import { alternatives, changedShare, type AlternativeCost, type Strategy } from './costs';
import type { Feature } from './feature';
import { bytes, count, cpu, duration, num, rate, times } from './format';

/**
 * The advisor's rules: a feature and a cost model in, one recommendation and its reasons out. A
 * pure function. The rules run in order and the first that applies decides:
 *
 * 1. `client-requests` / `client-chatty`: data the client sends goes as REST requests, unless each
 *    client sends more than once a second: then one WebSocket saves a request (and its headers) per message.
 * 2. `bidirectional-low-latency`: both sides send and it must be fresher than polling can be: WebSocket.
 * 3. `freshness-needs-push`: the server sends and it must be fresher than a sensible polling interval: push (SSE).
 * 4. `shared-rare-cdn`: public data that changes rarely: REST with ETag and Cache-Control behind a CDN,
 *    which answers the polls however many clients there are.
 * 5. By cost: push (`push-cheaper`) only when it costs the server at most half what polling at the
 *    needed freshness does and polling is not negligible; otherwise REST with ETag polling
 *    (`rare-changes-rest` when the data changes rarely, `polling-negligible`, `polling-cheaper`).
 *
 * Push means SSE when only the server sends (plain HTTP) and WebSocket when both do.
 */

/** Where the rules draw their lines. */
export interface Thresholds {
  /** Below this, polling is no longer sensible (requests per client per second, radio wake-ups): push. */
  minPollIntervalMs: number;
  /** At or below this many changes a minute, data "changes rarely" (the article: more than once a minute favours push). */
  rareChangesPerMinute: number;
  /** Above this many messages a minute per client, requests cost more than a held WebSocket. */
  chattyClientPerMinute: number;
  /** Push must cost the server at most 1/this of polling's CPU to be worth connections held open. */
  pushAdvantage: number;
  /** Polling below this much server CPU (ms per second; 10 is 1% of a core) is not worth replacing. */
  negligibleCpuMsPerSecond: number;
  /** SSE is chosen over WebSocket unless its CPU per update is more than this many times WebSocket's. */
  sseCpuTolerance: number;
}

export const THRESHOLDS: Thresholds = {
  minPollIntervalMs: 2000,
  rareChangesPerMinute: 1,
  chattyClientPerMinute: 60,
  pushAdvantage: 2,
  negligibleCpuMsPerSecond: 10,
  sseCpuTolerance: 1.5,
};

export type RuleId =
  | 'client-requests'
  | 'client-chatty'
  | 'bidirectional-low-latency'
  | 'freshness-needs-push'
  | 'shared-rare-cdn'
  | 'rare-changes-rest'
  | 'polling-negligible'
  | 'polling-cheaper'
  | 'push-cheaper';

export interface Advice {
  feature: Feature;
  strategy: Strategy;
  rule: RuleId;
  /** The deciding reason first, then what else matters for this choice. */
  reasons: string[];
  /** Every alternative weighed, with its cost; the recommended one among them. */
  alternatives: AlternativeCost[];
}

type Decision = Pick<Advice, 'strategy' | 'rule' | 'reasons'>;

interface Context {
  f: Feature;
  m: CostModel;
  t: Thresholds;
  alts: AlternativeCost[];
}

function alt(c: Context, strategy: Strategy): AlternativeCost {
  return c.alts.find((a) => a.strategy === strategy)!;
}

function clientSends(c: Context): Decision {
  const { f, m, t } = c;
  const rest = alt(c, 'rest');
  const ws = alt(c, 'websocket');
  if (f.changesPerMinute > t.chattyClientPerMinute) {
    return {
      strategy: 'websocket',
      rule: 'client-chatty',
      reasons: [
        `Each client sends ${rate(f.changesPerMinute)}, more than once a second: over REST every message is a request with ~${num(m.requestHeaderBytes)} B of headers and an HTTP round trip, ${cpu(rest.serverCpuMsPerSecond)} and ${bytes(rest.bytesPerSecond.clientToServer)}/s in; over one WebSocket it is a frame, ${cpu(ws.serverCpuMsPerSecond)} and ${bytes(ws.bytesPerSecond.clientToServer)}/s in.`,
        `Keep REST for what needs HTTP: the first load, uploads, anything cacheable or retried with an idempotency key.`,
      ],
    };
  }
  return {
    strategy: 'rest',
    rule: 'client-requests',
    reasons: [
      `The client starts every exchange and sends ${rate(f.changesPerMinute)}: a request per message is enough, and its response is the acknowledgement (status codes, retries with idempotency keys, every HTTP tool works).`,
      `A WebSocket would hold ${count(f.clients)} connections (${bytes(ws.memoryBytes)}) to save ${cpu(Math.max(0, rest.serverCpuMsPerSecond - ws.serverCpuMsPerSecond))}: the article's "don't WebSocket everything".`,
    ],
  };
}

/** SSE for server-only push, unless the cost model measured it much dearer than WebSocket. */
function serverPush(c: Context): { kind: 'sse' | 'websocket'; why: string } {
  const sse = alt(c, 'sse');
  const ws = alt(c, 'websocket');
  const ratio = c.m.cpuMsPerPush.sse / c.m.cpuMsPerPush.websocket;
  if (ratio > c.t.sseCpuTolerance) {
    return { kind: 'websocket', why: `WebSocket rather than SSE: an SSE update costs ${times(c.m.cpuMsPerPush.sse, c.m.cpuMsPerPush.websocket)} a WebSocket one here: ${cpu(sse.serverCpuMsPerSecond)} against ${cpu(ws.serverCpuMsPerSecond)}.` };
  }
  return {
    kind: 'sse',
    why: `SSE rather than WebSocket: only the server sends, and SSE is plain HTTP: it passes proxies and HTTP/2, reconnects by itself and resumes with Last-Event-ID. A WebSocket would cost about the same: ${cpu(ws.serverCpuMsPerSecond)} against ${cpu(sse.serverCpuMsPerSecond)}.`,
  };
}

function pushKind(c: Context): { kind: 'sse' | 'websocket'; why: string } {
  if (c.f.initiator === 'both') return { kind: 'websocket', why: 'WebSocket: both sides send, and one connection carries both directions (REST for the first load).' };
  return serverPush(c);
}

function held(a: AlternativeCost): string {
  return `Holds ${count(a.connectionsHeld)} connections open (${bytes(a.memoryBytes)} of server memory); clients need reconnect with backoff and the load balancer must allow long-lived connections.`;
}

/** The polling alternative this feature would use: through a CDN when public, with ETag when private, plain when neither. */
function polling(c: Context): AlternativeCost {
  return c.f.cache === 'public' ? alt(c, 'poll-cdn') : c.f.cache === 'private' ? alt(c, 'poll-etag') : alt(c, 'poll-plain');
}

function writesNote(c: Context): string[] {
  return c.f.initiator === 'both' ? ["The client's own messages go as REST requests; they cost about the same either way and are not counted above."] : [];
}

/** What the polls find: mostly nothing new, or a change nearly every time. */
function pollYield(c: Context, poll: AlternativeCost): string {
  const empty = 1 - changedShare(c.f.changesPerMinute, poll.pollIntervalMs!);
  return empty >= 0.01 ? `About ${num(100 * empty)}% of the polls find nothing new.` : 'Nearly every poll finds a change, and one poll picks up all the changes since the last.';
}

function byCost(c: Context): Decision {
  const { f, t } = c;
  const poll = polling(c);
  const { kind, why } = pushKind(c);
  const pushed = alt(c, kind);
  const interval = duration(poll.pollIntervalMs!);
  const rare = f.changesPerMinute <= t.rareChangesPerMinute;
  const negligible = poll.serverCpuMsPerSecond <= t.negligibleCpuMsPerSecond;
  const pushWins = pushed.serverCpuMsPerSecond * t.pushAdvantage <= poll.serverCpuMsPerSecond;
  const pollCost = `${poll.strategy === 'poll-cdn' ? 'through a CDN costs the origin' : 'costs'} ${cpu(poll.serverCpuMsPerSecond)}`;
  const pushCost = `push ${cpu(pushed.serverCpuMsPerSecond)}`;
  if (pushWins && !negligible) {
    return {
      strategy: kind,
      rule: 'push-cheaper',
      reasons: [
        `The data changes ${rare ? `rarely (${rate(f.changesPerMinute)}), but` : `${rate(f.changesPerMinute)} and`} must be fresh within ${duration(f.freshnessMs)}: polling every ${interval} ${pollCost} for ${count(f.clients)} clients (${num(100 * (1 - changedShare(f.changesPerMinute, poll.pollIntervalMs!)))}% of the polls answering "nothing new"); ${pushCost}, ${times(poll.serverCpuMsPerSecond, pushed.serverCpuMsPerSecond)} less.`,
        why,
        held(pushed),
      ],
    };
  }
  let rule: RuleId;
  let first: string;
  if (pushed.serverCpuMsPerSecond >= poll.serverCpuMsPerSecond) {
    rule = 'polling-cheaper';
    first = `Polling every ${interval} ${pollCost}, less than ${pushCost}: the data changes ${rate(f.changesPerMinute)}, more often than clients need to see it (within ${duration(f.freshnessMs)}), and a poll picks up every change since the last while push sends each.`;
  } else if (rare) {
    rule = 'rare-changes-rest';
    first = `The data changes rarely (${rate(f.changesPerMinute)}): REST with ETag and Cache-Control. Polling every ${interval} ${pollCost}, mostly 304s with no body (${pushCost}); responses stay cacheable and nothing is held open.`;
  } else if (negligible) {
    rule = 'polling-negligible';
    first = `Polling every ${interval} ${pollCost} for ${count(f.clients)} clients: too little to be worth holding ${count(f.clients)} connections open for push (${pushCost}). The article's "don't WebSocket everything".`;
  } else {
    rule = 'polling-cheaper';
    first = `Polling every ${interval} ${pollCost}; ${pushCost} would be only ${times(poll.serverCpuMsPerSecond, pushed.serverCpuMsPerSecond)} cheaper, less than the ${num(t.pushAdvantage)}× that pays for connections held open.`;
  }
  return { strategy: poll.strategy, rule, reasons: [first, `How: ${poll.how}. ${pollYield(c, poll)}`, ...writesNote(c)] };
}

function decide(c: Context): Decision {
  const { f, t } = c;
  if (f.initiator === 'client') return clientSends(c);
  const poll = polling(c);
  const tooFresh = f.freshnessMs < t.minPollIntervalMs;
  if (f.initiator === 'both' && tooFresh) {
    return {
      strategy: 'websocket',
      rule: 'bidirectional-low-latency',
      reasons: [
        `Both sides send and a client must see changes within ${duration(f.freshnessMs)}: bidirectional and low-latency is what a WebSocket is for. One connection carries both directions with no request per message; polling cannot be that fresh (a sensible interval is ${duration(t.minPollIntervalMs)} or more) and SSE would still need a request per client message.`,
        held(alt(c, 'websocket')),
      ],
    };
  }
  if (tooFresh) {
    const { kind, why } = pushKind(c);
    const pushed = alt(c, kind);
    return {
      strategy: kind,
      rule: 'freshness-needs-push',
      reasons: [
        `A client must see changes within ${duration(f.freshnessMs)}, faster than a sensible polling interval (${duration(t.minPollIntervalMs)}): polling that often would cost ${cpu(poll.serverCpuMsPerSecond)} for ${count(f.clients)} clients, while push delivers in ~${duration(pushed.worstDelayMs ?? 0)} for ${cpu(pushed.serverCpuMsPerSecond)}.`,
        why,
        held(pushed),
      ],
    };
  }
  if (f.cache === 'public' && f.changesPerMinute <= t.rareChangesPerMinute) {
    const pushed = alt(c, pushKind(c).kind);
    return {
      strategy: 'poll-cdn',
      rule: 'shared-rare-cdn',
      reasons: [
        `Shared (public) data that changes rarely (${rate(f.changesPerMinute)}): REST with ETag and Cache-Control behind a CDN. The CDN answers the clients' polls and the origin sees ~${num(poll.requestsPerSecond)} revalidations a second, ${cpu(poll.serverCpuMsPerSecond)}, however many clients there are; push would hold ${count(f.clients)} connections (${bytes(pushed.memoryBytes)}) and cost ${cpu(pushed.serverCpuMsPerSecond)}.`,
        `How: ${poll.how}.`,
        ...writesNote(c),
      ],
    };
  }
  return byCost(c);
}

/**
 * Recommends how to carry one feature's data, with the reasons and the cost of every alternative.
 *
 * @example advise({ name: 'chat', initiator: 'both', changesPerMinute: 20, clients: 5000, freshnessMs: 500, cache: 'private', payloadBytes: 300 }, MODELLED).strategy // 'websocket'
 */
export function advise(feature: Feature, model: CostModel, thresholds: Thresholds = THRESHOLDS): Advice {
  const c: Context = { f: feature, m: model, t: thresholds, alts: alternatives(feature, model) };
  return { feature, ...decide(c), alternatives: c.alts };
}
