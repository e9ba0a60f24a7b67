import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asBenchReport, costModelFromReport, CostsFileError, MODELLED } from '../../src/cli/advise/cost-model';
import { changedShare, pollCdn, pollEtag, pollPlain, push, restSends, websocketSends } from '../../src/cli/advise/costs';
import type { Feature } from '../../src/cli/advise/feature';
import { advise } from '../../src/cli/advise/rules';
import type { BenchReport } from '../../src/cli/bench/report';

// Without the unit costs the report states, so the derivation from its totals is what is tested.
const { unitCosts: _stated, ...fixture } = JSON.parse(fs.readFileSync('test/cli/fixtures/bench-report.json', 'utf8')) as BenchReport & { unitCosts?: unknown };

const live: Feature = { name: 'live', initiator: 'server', changesPerMinute: 30, clients: 5000, freshnessMs: 2000, cache: 'private', payloadBytes: 1000 };

describe('the modelled costs, by hand', () => {
  it('polling with ETag: clients/interval requests, 200s for the changed share, 304s for the rest', () => {
    const p = changedShare(30, 2000); // 1 - e^-1
    expect(p).toBeCloseTo(1 - Math.exp(-1), 12);
    const cost = pollEtag(live, MODELLED);
    expect(cost.requestsPerSecond).toBe(2500);
    expect(cost.serverCpuMsPerSecond).toBeCloseTo(2500 * (p * 0.05 + (1 - p) * 0.045), 9);
    expect(cost.bytesPerSecond.clientToServer).toBe(2500 * 600);
    expect(cost.bytesPerSecond.serverToClient).toBeCloseTo(2500 * (p * (1000 + 350) + (1 - p) * 250), 6);
    expect(cost).toMatchObject({ pollIntervalMs: 2000, worstDelayMs: 2000, connectionsHeld: 5000, memoryBytes: 5000 * 1200 });
  });

  it('polls less often than the keep-alive timeout hold no connection', () => {
    expect(pollEtag({ ...live, freshnessMs: 120_000 }, MODELLED).connectionsHeld).toBe(0);
  });

  it('plain polling: every answer a 200 with the body', () => {
    const cost = pollPlain(live, MODELLED);
    expect(cost.serverCpuMsPerSecond).toBeCloseTo(2500 * 0.05, 9);
    expect(cost.bytesPerSecond.serverToClient).toBeCloseTo(2500 * 1350, 6);
  });

  it('through a CDN: the origin sees the edges once per max-age (freshness / 2), whatever the clients', () => {
    const cost = pollCdn({ ...live, cache: 'public', clients: 1_000_000 }, MODELLED);
    expect(cost.requestsPerSecond).toBe(20); // 20 edges every 1 s
    expect(cost.pollIntervalMs).toBe(1000);
    expect(cost.connectionsHeld).toBe(20);
  });

  it('push: one delivery per client per change, plus heartbeats; one connection per client', () => {
    const ws = push(live, MODELLED, 'websocket');
    expect(ws.serverCpuMsPerSecond).toBeCloseTo(2500 * 0.009 + 200 * 0.005, 9);
    expect(ws.bytesPerSecond.serverToClient).toBeCloseTo(2500 * 1060 + 200 * 6, 6);
    expect(ws).toMatchObject({ requestsPerSecond: 0, connectionsHeld: 5000, memoryBytes: 5000 * 3700, worstDelayMs: 5 });
    expect(push(live, MODELLED, 'sse').memoryBytes).toBe(5000 * 1500);
  });

  it('client sends: a REST request costs an HTTP round trip, a WebSocket message a frame', () => {
    const sender: Feature = { ...live, initiator: 'client', changesPerMinute: 60 };
    expect(restSends(sender, MODELLED).serverCpuMsPerSecond).toBeCloseTo(5000 * 0.045, 9);
    expect(websocketSends(sender, MODELLED).serverCpuMsPerSecond).toBeCloseTo(5000 * 0.015 + 200 * 0.005, 9);
  });
});

describe('the measured costs, from a bench report', () => {
  const model = costModelFromReport(fixture, 'bench-report.json');

  it('derives each unit cost from the report totals', () => {
    const plain = fixture.results.find((r) => r.strategy === 'poll-plain')!;
    const etag = fixture.results.find((r) => r.strategy === 'poll-etag')!;
    const ws = fixture.results.find((r) => r.strategy === 'websocket')!;
    expect(model.cpuMsPer200).toBeCloseTo(plain.serverCpuMs / plain.requests, 12);
    const ok = etag.delivered;
    expect(model.cpuMsPer304).toBeCloseTo((etag.serverCpuMs - ok * model.cpuMsPer200) / (etag.requests - ok), 12);
    expect(model.cpuMsPerPush.websocket).toBeCloseTo(ws.serverCpuMs / ws.delivered, 12);
    expect(model.pushOverheadBytes.websocket).toBeCloseTo(ws.bytesPerUpdate.serverToClient - fixture.workload.payloadBytes, 9);
    expect(model.memoryPerConnectionBytes).toEqual({ sse: 1311, websocket: 3758, poll: 1187 });
    expect(model.requestHeaderBytes).toBe(212);
    expect(model.responseHeaderBytes.ok).toBeCloseTo(331, 0);
    expect(model.pushLatencyMs).toEqual({ sse: 6.83, websocket: 4.91 });
    expect(model.source).toMatchObject({ kind: 'measured', file: 'bench-report.json', startedAt: fixture.startedAt });
    expect(model.measured).toContain('cpuMsPer304');
    expect(model.measured).not.toContain('cdnEdges');
  });

  it('changes the numbers the advice shows: bytes follow the measured header sizes', () => {
    const modelled = advise(live, MODELLED).alternatives.find((a) => a.strategy === 'poll-etag')!;
    const measured = advise(live, model).alternatives.find((a) => a.strategy === 'poll-etag')!;
    expect(modelled.bytesPerSecond.clientToServer).toBe(2500 * 600);
    expect(measured.bytesPerSecond.clientToServer).toBe(2500 * 212);
    expect(measured.serverCpuMsPerSecond).not.toBeCloseTo(modelled.serverCpuMsPerSecond, 3);
  });

  it('can change the recommendation: a report where push is dear keeps a feature on polling', () => {
    const dearPush: BenchReport = { ...fixture, results: fixture.results.map((r) => (r.strategy === 'sse' || r.strategy === 'websocket' ? { ...r, serverCpuMs: r.serverCpuMs * 20 } : r)) };
    expect(advise(live, MODELLED).strategy).toBe('sse');
    expect(advise(live, costModelFromReport(dearPush, 'dear.json'))).toMatchObject({ strategy: 'poll-etag', rule: 'polling-cheaper' });
  });

  it('prefers unit costs the report states, and subtracts a stated baseline', () => {
    const stated = { ...fixture, unitCosts: { poll304Ms: 0.03, poll200Ms: 0.04, pushMs: 0.006, push: 'websocket' } } as BenchReport;
    expect(costModelFromReport(stated, 'r.json')).toMatchObject({ cpuMsPer304: 0.03, cpuMsPer200: 0.04, cpuMsPerPush: { websocket: 0.006 } });
    const withBaseline = { ...fixture, results: fixture.results.map((r) => ({ ...r, baselineCpuMsPerSecond: 1 })) } as BenchReport;
    const ws = fixture.results.find((r) => r.strategy === 'websocket')!;
    expect(costModelFromReport(withBaseline, 'r.json').cpuMsPerPush.websocket).toBeCloseTo((ws.serverCpuMs - 30) / ws.delivered, 12);
  });

  it('keeps the modelled number where the report has nothing usable', () => {
    const onlyPush = { ...fixture, results: fixture.results.filter((r) => r.strategy === 'websocket') };
    const m = costModelFromReport(onlyPush, 'r.json');
    expect(m.cpuMsPer304).toBe(MODELLED.cpuMsPer304);
    expect(m.cpuMsPerPush.sse).toBe(MODELLED.cpuMsPerPush.sse);
    expect(m.measured).not.toContain('cpuMsPer304');
    const broken = { ...fixture, results: fixture.results.map((r) => ({ ...r, serverCpuMs: -5 })) };
    expect(costModelFromReport(broken, 'r.json').cpuMsPerPush.websocket).toBe(MODELLED.cpuMsPerPush.websocket);
  });

  it('never changes the modelled defaults it starts from', () => {
    costModelFromReport(fixture, 'r.json');
    expect(MODELLED.measured).toEqual([]);
    expect(MODELLED.cpuMsPer304).toBe(0.045);
  });

  it('refuses what is not a version 1 bench report, saying why', () => {
    expect(() => asBenchReport({ tool: 'other' })).toThrow(CostsFileError);
    expect(() => asBenchReport({ ...fixture, version: 2 })).toThrow(/report version 2; this tandem reads version 1/);
    expect(() => asBenchReport({ tool: 'tandem bench', version: 1 })).toThrow(/without results/);
    expect(asBenchReport(fixture)).toBe(fixture);
  });
});
