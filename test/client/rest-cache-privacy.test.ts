import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocialClient } from '../../src/apps/social/client';
import { registerUser, startServer, type TestServer } from '../support/server';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

describe('the ETag cache and account switches', () => {
  it("never revalidates (or serves) one user's private answer for another", async () => {
    const alice = await registerUser(server);
    const bob = await registerUser(server);
    const sent: Array<{ url: string; ifNoneMatch: string | null }> = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      sent.push({ url: String(input), ifNoneMatch: new Headers(init?.headers).get('if-none-match') });
      return fetch(input, init);
    };
    const client = new SocialClient({ baseUrl: server.url, fetch: recordingFetch });
    await client.login({ username: alice.username, password: alice.password });
    expect((await client.me()).username).toBe(alice.username);
    expect((await client.me()).username).toBe(alice.username);
    const aliceRevalidated = sent.filter((r) => r.url.endsWith('/api/me')).map((r) => r.ifNoneMatch !== null);
    expect(aliceRevalidated).toEqual([false, true]); // the second GET revalidated her own copy
    await client.login({ username: bob.username, password: bob.password });
    sent.length = 0;
    expect((await client.me()).username).toBe(bob.username);
    expect(sent.filter((r) => r.url.endsWith('/api/me')).map((r) => r.ifNoneMatch)).toEqual([null]);
  });
});
