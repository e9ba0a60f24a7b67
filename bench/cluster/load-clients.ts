/**
 * The load clients' process (pinned to the load core), driven by the runner over IPC: it fetches
 * access tokens, holds the fanout subscribers (fanout-clients.ts) and the storm clients
 * (storm-clients.ts). Tokens are kept per setup ('single', 'cluster': two schemas, two sets of
 * accounts) and reused by every round.
 */
import { closeFanout, connectFanout, expectDeliveries, waitDeliveries } from './fanout-clients';
import { armStorm, closeStorm, connectStorm, setStormTarget, settleStorm, waitStorm } from './storm-clients';

export type LoadCommand =
  | { cmd: 'tokens'; set: string; base: string; from: number; count: number }
  | { cmd: 'fanout'; set: string; base: string; from: number; count: number; group: string; channel: string; sampleEvery: number }
  | { cmd: 'expect'; count: number }
  | { cmd: 'wait'; timeoutMs: number }
  | { cmd: 'closeFanout' }
  | { cmd: 'storm'; set: string; base: string; from: number; count: number; channel: string }
  | { cmd: 'stormSettle'; offset: number; timeoutMs: number }
  | { cmd: 'stormArm'; base: string }
  | { cmd: 'stormTarget'; offset: number }
  | { cmd: 'stormWait'; timeoutMs: number }
  | { cmd: 'closeStorm' }
  | { cmd: 'exit' };

export type LoadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const tokenSets = new Map<string, string[]>();

async function fetchTokens(set: string, base: string, from: number, count: number): Promise<number> {
  const tokens = tokenSets.get(set) ?? tokenSets.set(set, []).get(set)!;
  const chunk = 500;
  const starts = Array.from({ length: Math.ceil(count / chunk) }, (_, i) => from + i * chunk);
  // Two requests at a time: the node's pool (10) stays busy without a queue of requests.
  for (let i = 0; i < starts.length; i += 2) {
    await Promise.all(starts.slice(i, i + 2).map(async (start) => {
      const n = Math.min(chunk, from + count - start);
      const response = await fetch(`${base}/bench/tokens?from=${start}&count=${n}`);
      if (!response.ok) throw new Error(`GET /bench/tokens: ${response.status} ${await response.text()}`);
      const got = (await response.json()) as string[];
      got.forEach((token, j) => (tokens[start + j] = token));
    }));
  }
  return count;
}

function tokensOf(set: string, from: number, count: number): string[] {
  const tokens = (tokenSets.get(set) ?? []).slice(from, from + count);
  if (tokens.length !== count || tokens.some((t) => t === undefined)) throw new Error(`tokens ${from}..${from + count - 1} of ${set} were not fetched`);
  return tokens;
}

async function handle(command: LoadCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'tokens':
      return fetchTokens(command.set, command.base, command.from, command.count);
    case 'fanout':
      return connectFanout({ base: command.base, tokens: tokensOf(command.set, command.from, command.count), first: command.from, group: command.group, channel: command.channel, sampleEvery: command.sampleEvery, concurrency: 64 });
    case 'expect':
      return expectDeliveries(command.count);
    case 'wait':
      return waitDeliveries(command.timeoutMs);
    case 'closeFanout':
      return closeFanout();
    case 'storm':
      return connectStorm({ base: command.base, tokens: tokensOf(command.set, command.from, command.count), channel: command.channel, concurrency: 200 });
    case 'stormSettle':
      return settleStorm(command.offset, command.timeoutMs);
    case 'stormArm':
      return armStorm(command.base);
    case 'stormTarget':
      return setStormTarget(command.offset);
    case 'stormWait':
      return waitStorm(command.timeoutMs);
    case 'closeStorm':
      return closeStorm();
    case 'exit':
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (message: LoadCommand & { id: number }) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result: result ?? null } satisfies LoadReply),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies LoadReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies LoadReply);
