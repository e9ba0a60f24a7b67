import { expect } from 'vitest';
import type { TestServer, TestUser } from './server';

/** Requests the social app's tests make over and over, each expecting its success status. */

/** POST /api/posts as `user`, expecting 201: the answer (its headers: ETag, Location) and the post. */
export async function postAs<T = { id: number }>(server: TestServer, user: TestUser, body: string): Promise<{ res: Response; post: T }> {
  const res = await server.request('/api/posts', { method: 'POST', token: user.accessToken, json: { body } });
  expect(res.status).toBe(201);
  return { res, post: (await res.json()) as T };
}

/** POST /api/posts/:postId/comments as `user`, a reply when `parentId` is given, expecting 201: the answer and the comment. */
export async function commentAs<T = { id: number }>(server: TestServer, user: TestUser, postId: number, body: string, parentId?: number | null): Promise<{ res: Response; comment: T }> {
  const json = parentId === undefined ? { body } : { body, parentId };
  const res = await server.request(`/api/posts/${postId}/comments`, { method: 'POST', token: user.accessToken, json });
  expect(res.status).toBe(201);
  return { res, comment: (await res.json()) as T };
}
