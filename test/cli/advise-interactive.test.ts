import { describe, expect, it } from 'vitest';
import { startAdvise } from './advise-cli';

/** The questions on a terminal, driven through a PassThrough stdin. */

describe('tandem advise, interactively', () => {
  it('asks every question with its default, takes Enter for it, and advises', async () => {
    const run = startAdvise([], true);
    // name, initiator, rate, clients, freshness, cache, payload, another?
    run.stdin.end(['live-comments', '', '30', '5000', '2s', '', '', 'n', ''].join('\n'));
    const { code, stdout, stderr } = await run.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain('Feature name [feature-1]: ');
    expect(stdout).toContain('Who sends: server (pushes to clients), client (sends to the server) or both (e.g. chat) [server]: ');
    expect(stdout).toContain('How many clients use it at the same time [1,000]: ');
    expect(stdout).toContain("How fresh must a client's copy be (e.g. 500ms, 2s, 1m) [5s]: ");
    expect(stdout).toContain('[private]: ');
    expect(stdout).toContain('[1024]: ');
    expect(stdout).toMatch(/live-comments: server → clients, changes 30\/min, 5,000 clients, fresh within 2 s, private data/);
    expect(stdout).toMatch(/Recommended: Server-Sent Events \(sse\), by rule push-cheaper/);
  });

  it('says what is wrong with an answer and asks again', async () => {
    const run = startAdvise([], true);
    run.stdin.end(['bell', 'sometimes', 'server', 'often', '12/h', '20k', '30', '30s', 'cdn', 'private', '1KiB', 'maybe', 'n', ''].join('\n'));
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(stdout).toContain('  That must be one of server, client, both.');
    expect(stdout).toContain('  That must be changes per minute, e.g. 30, or with a unit: 0.5/s, 2/h, 1/d.');
    expect(stdout).toContain('  That must be a duration with its unit, e.g. 500ms, 2s, 1m or 1h.');
    expect(stdout).toContain('  That must be one of public, private, none.');
    expect(stdout).toContain('  That is a yes or no question.');
    expect(stdout).toMatch(/bell: server → clients, changes 12\/h, 20,000 clients, fresh within 30 s/);
  });

  it('asks for several features, skips freshness and caching for client-sent data, refuses a taken name', async () => {
    const run = startAdvise(['--json'], true);
    run.stdin.end(['chat', 'both', '20', '', '500ms', '', '300', 'y', 'chat', 'post', 'client', '0.5', '', '', 'no', ''].join('\n'));
    const { code, stdout, stderr } = await run.done;
    expect(code).toBe(0);
    // With --json the questions go to stderr and stdout is the JSON alone.
    expect(stderr).toContain('  That name is taken by an earlier feature.');
    const doc = JSON.parse(stdout) as { features: { feature: { name: string }; recommendation: { strategy: string } }[] };
    expect(doc.features.map((f) => [f.feature.name, f.recommendation.strategy])).toEqual([['chat', 'websocket'], ['post', 'rest']]);
    const askedForPost = stderr.slice(stderr.lastIndexOf('Feature name'));
    expect(askedForPost).not.toContain('How fresh');
    expect(askedForPost).not.toContain('Can answers be cached');
  });

  it('asks only what the flags left out', async () => {
    const run = startAdvise(['--feature=feed', '--initiator=server', '--cache=public'], true);
    run.stdin.end(['6', '30s', ''].join('\n'));
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(stdout).toContain('Feature "feed":');
    expect(stdout).not.toContain('Who sends');
    expect(stdout).not.toContain('How many clients');
    expect(stdout).toMatch(/feed: server → clients, changes 6\/min, 1,000 clients, fresh within 30 s, public data/);
  });

  it('--no-interactive never asks, even on a terminal', async () => {
    const run = startAdvise(['--no-interactive', '--feature=feed'], true);
    run.stdin.end();
    expect(await run.done).toMatchObject({ code: 2, stderr: expect.stringMatching(/feature "feed" needs --initiator, --changes-per-minute, --freshness/) });
  });

  it('--interactive asks even without a terminal', async () => {
    const run = startAdvise(['--interactive', '--feature=feed', '--initiator=server', '--changes-per-minute=6'], false);
    run.stdin.end('10s\n');
    expect(await run.done).toMatchObject({ code: 0, stdout: expect.stringMatching(/fresh within 10 s/) });
  });

  it('exits 2 when the input ends before every question is answered', async () => {
    const run = startAdvise([], true);
    run.stdin.end('half\nserver\n');
    const { code, stderr } = await run.done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/the input ended before every question was answered/);
  });

  it('waits for answers typed one at a time', async () => {
    const run = startAdvise(['--feature=slow', '--initiator=client'], true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    run.stdin.write('90\n');
    const { code, stdout } = await run.done;
    expect(code).toBe(0);
    expect(stdout).toMatch(/by rule client-chatty/);
  });
});
