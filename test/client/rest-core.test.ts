import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient, TandemClientError } from '../../src/client/index';
import { startServer, type TestServer } from '../support/server';

/**
 * The generic core on its own, with no app methods: any API layout (account routes under
 * `authPath`), paged lists with their channel and position, and `request` for the rest.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

let counter = 0;
const unique = () => `core${process.pid % 10000}_${(counter += 1)}`;

interface User {
  id: number;
  username: string;
}

describe('the RestClient core', () => {
  it('signs in under authPath, pages a list with its channel and position, and reaches any route with request()', async () => {
    const paths: string[] = [];
    const recording: typeof fetch = (input, init) => {
      paths.push(new URL(String(input)).pathname);
      return fetch(input, init);
    };
    // The base URL ends in /api, so the account routes are at /auth from there.
    const api = new RestClient<User>({ baseUrl: `${server.url}/api`, authPath: '/auth/', fetch: recording });
    const username = unique();
    const session = await api.register({ username, password: 'correct horse battery', displayName: 'Core' });
    expect(session.user.username).toBe(username);
    expect(paths).toEqual(['/api/auth/register']);

    const created = await api.request<{ id: number }>({ method: 'POST', path: '/posts', body: { body: 'from the core' }, create: true });
    expect(created.status).toBe(201);
    const page = await api.list<{ id: number }>('/posts', { limit: 1 }, { auth: 'none' });
    expect(page.items.map((p) => p.id)).toEqual([created.body.id]);
    expect(page.channel).toBe('feed');
    expect(page.position).toEqual({ e: expect.any(String), o: expect.any(Number) });
    const notifications = await api.list<unknown, { unreadCount: number }>('/notifications');
    expect(notifications.unreadCount).toBe(0);
    expect(notifications.channel).toBe(`user:${session.user.id}`);

    await api.logout();
    expect(paths.at(-1)).toBe('/api/auth/logout');
    const error = await api.list('/notifications').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TandemClientError);
    expect((error as TandemClientError).code).toBe('signed_out');
  });

  it('keeps the channel and position of a 304 from the headers it kept with the body', async () => {
    // A 304 that carries no Tandem-* headers (as some proxies strip them): the kept ones answer.
    const stripping: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.status !== 304) return response;
      const headers = new Headers(response.headers);
      for (const name of ['tandem-channel', 'tandem-epoch', 'tandem-position']) headers.delete(name);
      return new Response(null, { status: 304, headers });
    };
    const api = new RestClient({ baseUrl: server.url, fetch: stripping });
    const first = await api.list('/api/posts', {}, { auth: 'none' });
    const second = await api.request({ method: 'GET', path: '/api/posts', auth: 'none' });
    expect(second.notModified).toBe(true);
    expect({ channel: second.channel, position: second.position }).toEqual({ channel: first.channel, position: first.position });
    expect(first.channel).toBe('feed');
  });
});
