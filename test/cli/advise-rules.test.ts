import { describe, expect, it } from 'vitest';
import { MODELLED } from '../../src/cli/advise/cost-model';
import type { Strategy } from '../../src/cli/advise/costs';
import type { Feature } from '../../src/cli/advise/feature';
import { advise, THRESHOLDS, type RuleId } from '../../src/cli/advise/rules';

/** The advisor's rules, case by case: a feature → the strategy, the rule that decided, and the key reason. */

function feature(overrides: Partial<Feature>): Feature {
  return { name: 'f', initiator: 'server', changesPerMinute: 1, clients: 1000, freshnessMs: 30_000, cache: 'private', payloadBytes: 1024, ...overrides };
}

interface Case {
  what: string;
  feature: Partial<Feature>;
  strategy: Strategy;
  rule: RuleId;
  /** A phrase the deciding (first) reason must contain. */
  because: RegExp;
}

const cases: Case[] = [
  {
    what: 'chat: both sides send and it must be instant',
    feature: { initiator: 'both', changesPerMinute: 20, clients: 5000, freshnessMs: 500, payloadBytes: 300 },
    strategy: 'websocket',
    rule: 'bidirectional-low-latency',
    because: /bidirectional and low-latency is what a WebSocket is for/,
  },
  {
    what: 'a live price the server pushes, fresh within a second',
    feature: { changesPerMinute: 120, clients: 2000, freshnessMs: 1000 },
    strategy: 'sse',
    rule: 'freshness-needs-push',
    because: /faster than a sensible polling interval \(2 s\)/,
  },
  {
    what: 'even a rarely changing value pushes when it must be fresher than polling can be',
    feature: { changesPerMinute: 0.1, clients: 50, freshnessMs: 500 },
    strategy: 'sse',
    rule: 'freshness-needs-push',
    because: /faster than a sensible polling interval/,
  },
  {
    what: 'a public profile that changes once a day, many readers',
    feature: { changesPerMinute: 1 / 1440, clients: 100_000, freshnessMs: 60_000, cache: 'public' },
    strategy: 'poll-cdn',
    rule: 'shared-rare-cdn',
    because: /CDN answers the clients' polls .* however many clients there are/,
  },
  {
    what: 'a public scoreboard changing every 10 s, 100k watchers, fresh within 10 s: the CDN beats push',
    feature: { changesPerMinute: 6, clients: 100_000, freshnessMs: 10_000, cache: 'public' },
    strategy: 'poll-cdn',
    rule: 'polling-cheaper',
    because: /through a CDN costs the origin/,
  },
  {
    what: 'private settings that change hourly: REST with ETag',
    feature: { changesPerMinute: 1 / 60, clients: 5000, freshnessMs: 60_000 },
    strategy: 'poll-etag',
    rule: 'rare-changes-rest',
    because: /changes rarely .*: REST with ETag and Cache-Control/,
  },
  {
    what: 'a rarely changing notification count for many clients who want it within 30 s: polling is material, push far cheaper',
    feature: { changesPerMinute: 0.2, clients: 20_000, freshnessMs: 30_000 },
    strategy: 'sse',
    rule: 'push-cheaper',
    because: /changes rarely \(12\/h\), but must be fresh within 30 s/,
  },
  {
    what: 'live comments: 30 a minute, fresh within 2 s, 5,000 readers',
    feature: { changesPerMinute: 30, clients: 5000, freshnessMs: 2000 },
    strategy: 'sse',
    rule: 'push-cheaper',
    because: /polling every 2 s costs .* less\./,
  },
  {
    what: 'comments with replies from the readers (both), fresh within 5 s: push goes over one WebSocket',
    feature: { initiator: 'both', changesPerMinute: 3, clients: 3000, freshnessMs: 5000 },
    strategy: 'websocket',
    rule: 'push-cheaper',
    because: /less\./,
  },
  {
    what: 'a small team tool: polling costs next to nothing, so no held connections',
    feature: { changesPerMinute: 10, clients: 20, freshnessMs: 2000 },
    strategy: 'poll-etag',
    rule: 'polling-negligible',
    because: /don't WebSocket everything/,
  },
  {
    what: 'a metrics dashboard: 10 changes a second, looked at every 30 s: polling conflates',
    feature: { changesPerMinute: 600, clients: 200, freshnessMs: 30_000 },
    strategy: 'poll-etag',
    rule: 'polling-cheaper',
    because: /a poll picks up every change since the last while push sends each/,
  },
  {
    what: 'data that cannot be revalidated polls with full answers',
    feature: { changesPerMinute: 3, clients: 2000, freshnessMs: 20_000, cache: 'none' },
    strategy: 'poll-plain',
    rule: 'polling-negligible',
    because: /don't WebSocket everything/,
  },
  {
    what: 'posting a comment: the client sends now and then',
    feature: { initiator: 'client', changesPerMinute: 0.5, clients: 5000 },
    strategy: 'rest',
    rule: 'client-requests',
    because: /its response is the acknowledgement/,
  },
  {
    what: 'a shared cursor: each client sends 10 times a second',
    feature: { initiator: 'client', changesPerMinute: 600, clients: 500, payloadBytes: 60 },
    strategy: 'websocket',
    rule: 'client-chatty',
    because: /more than once a second: over REST every message is a request with ~600 B of headers/,
  },
];

describe('advise: which strategy, by which rule, for what reason', () => {
  it.each(cases)('$what → $strategy ($rule)', ({ feature: overrides, strategy, rule, because }) => {
    const advice = advise(feature(overrides), MODELLED);
    expect({ strategy: advice.strategy, rule: advice.rule }).toEqual({ strategy, rule });
    expect(advice.reasons[0]).toMatch(because);
    expect(advice.alternatives.map((a) => a.strategy)).toContain(strategy);
  });

  it('says why SSE and not WebSocket for server-only push, and the connections it holds', () => {
    const advice = advise(feature({ changesPerMinute: 30, clients: 5000, freshnessMs: 2000 }), MODELLED);
    expect(advice.reasons.join(' ')).toMatch(/SSE is plain HTTP: it passes proxies/);
    expect(advice.reasons.join(' ')).toMatch(/Holds 5,000 connections open/);
  });

  it('takes WebSocket over SSE when the measured SSE update is much dearer', () => {
    const dearSse = { ...MODELLED, cpuMsPerPush: { sse: 0.03, websocket: 0.01 } };
    const advice = advise(feature({ changesPerMinute: 30, clients: 5000, freshnessMs: 2000 }), dearSse);
    expect(advice.strategy).toBe('websocket');
    expect(advice.reasons[1]).toMatch(/WebSocket rather than SSE: an SSE update costs 3×/);
  });

  it('weighs the polling that fits the cacheability, and always both pushes', () => {
    const kinds = (cache: Feature['cache']) => advise(feature({ cache }), MODELLED).alternatives.map((a) => a.strategy);
    expect(kinds('public')).toEqual(['poll-cdn', 'poll-etag', 'sse', 'websocket']);
    expect(kinds('private')).toEqual(['poll-etag', 'sse', 'websocket']);
    expect(kinds('none')).toEqual(['poll-plain', 'sse', 'websocket']);
    expect(advise(feature({ initiator: 'client' }), MODELLED).alternatives.map((a) => a.strategy)).toEqual(['rest', 'websocket']);
  });

  it('moves with its thresholds: a stricter push advantage keeps live comments on polling', () => {
    const live = feature({ changesPerMinute: 30, clients: 5000, freshnessMs: 2000 });
    expect(advise(live, MODELLED, { ...THRESHOLDS, pushAdvantage: 10 })).toMatchObject({ strategy: 'poll-etag', rule: 'polling-cheaper' });
    expect(advise(live, MODELLED, { ...THRESHOLDS, pushAdvantage: 10 }).reasons[0]).toMatch(/would be only .* cheaper, less than the 10×/);
    expect(advise(feature({ freshnessMs: 1500 }), MODELLED, { ...THRESHOLDS, minPollIntervalMs: 1000 }).rule).not.toBe('freshness-needs-push');
  });

  it('notes, for features where both sides send, that the writes are not in the costs', () => {
    const advice = advise(feature({ initiator: 'both', changesPerMinute: 3, clients: 300, freshnessMs: 5000 }), MODELLED);
    expect(advice.strategy).toBe('poll-etag');
    expect(advice.reasons.join(' ')).toMatch(/client's own messages go as REST requests/);
  });
});
