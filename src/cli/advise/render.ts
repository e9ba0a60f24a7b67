import type { CostModel } from './cost-model';
import type { AlternativeCost, Strategy } from './costs';
import type { Feature } from './feature';
import { bytes, count, cpuShort, duration, num, rate, table } from './format';
import type { Advice, Thresholds } from './rules';

/** The advisor's output: text for a person, JSON (`--json`) for a script. */

export const STRATEGY_NAMES: Record<Strategy, string> = {
  rest: 'REST requests',
  'poll-etag': 'REST polling with ETag',
  'poll-cdn': 'REST polling through a CDN',
  'poll-plain': 'REST polling, full answers',
  sse: 'Server-Sent Events',
  websocket: 'WebSocket',
};

function describeSource(model: CostModel): string {
  if (model.source.kind === 'modelled') {
    return "Costs: modelled from Tandem's benchmarks (docs/performance.md). Pass --costs=report.json to use a tandem bench report's.";
  }
  const s = model.source;
  const measured = model.measured.length > 0 ? `measured: ${model.measured.join(', ')}; the rest modelled` : 'nothing usable in it, all modelled';
  return `Costs: from ${s.file}, tandem bench of ${s.startedAt} on ${s.machine} (${s.target}); ${measured}.`;
}

function describeFeature(f: Feature): string {
  const direction = { server: 'server → clients', client: 'clients → server', both: 'both ways' }[f.initiator];
  const what = f.initiator === 'client' ? `each client sends ${rate(f.changesPerMinute)}` : `changes ${rate(f.changesPerMinute)}`;
  const cache = { public: 'public data (one answer for all)', private: 'private data (per user)', none: 'uncacheable data' }[f.cache];
  const fresh = f.initiator === 'client' ? [] : [`fresh within ${duration(f.freshnessMs)}`, cache];
  return [direction, what, `${count(f.clients)} clients`, ...fresh, `${bytes(f.payloadBytes)} a message`].join(', ');
}

function row(a: AlternativeCost, chosen: Strategy): string[] {
  return [
    `${a.strategy === chosen ? '→ ' : '  '}${a.strategy}`,
    a.pollIntervalMs !== undefined ? `every ${duration(a.pollIntervalMs)}` : a.worstDelayMs === null ? 'on send' : 'push',
    cpuShort(a.serverCpuMsPerSecond),
    `${num(a.serverCpuMsPerSecond / 10)}%`,
    `${bytes(a.bytesPerSecond.serverToClient)}/s`,
    `${bytes(a.bytesPerSecond.clientToServer)}/s`,
    num(a.requestsPerSecond),
    count(a.connectionsHeld),
    bytes(a.memoryBytes),
    a.worstDelayMs === null ? 'a round trip' : duration(a.worstDelayMs),
  ];
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}

function adviceText(a: Advice): string {
  const head = ['  alternative', 'how often', 'server CPU', 'core', 'out', 'in', 'req/s', 'connections', 'memory', 'worst delay'];
  return [
    `${a.feature.name}: ${describeFeature(a.feature)}`,
    '',
    table(head, a.alternatives.map((x) => row(x, a.strategy))),
    '',
    `  Recommended: ${STRATEGY_NAMES[a.strategy]} (${a.strategy}), by rule ${a.rule}`,
    ...a.reasons.map((r) => `    - ${wrap(r, 92, '      ')}`),
  ].join('\n');
}

/** The text report: the cost model's source, then per feature its alternatives' costs, the recommendation and why. */
export function renderText(advice: Advice[], model: CostModel): string {
  const summary = advice.length > 1 ? ['', 'Summary:', ...advice.map((a) => `  ${a.feature.name}: ${STRATEGY_NAMES[a.strategy]} (${a.strategy})`)] : [];
  return `${[wrap(describeSource(model), 100, ''), ...advice.flatMap((a) => ['', adviceText(a)]), ...summary].join('\n')}\n`;
}

/** What `--json` prints: stable field names, numbers unrounded, the thresholds the rules used. */
export function renderJson(advice: Advice[], model: CostModel, thresholds: Thresholds): string {
  const document = {
    tool: 'tandem advise',
    version: 1,
    costModel: model,
    thresholds,
    features: advice.map((a) => ({
      feature: a.feature,
      recommendation: { strategy: a.strategy, name: STRATEGY_NAMES[a.strategy], rule: a.rule, reasons: a.reasons },
      alternatives: a.alternatives,
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
