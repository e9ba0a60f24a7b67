import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocialDb } from '../src/apps/social/db';
import { socialMigrations } from '../src/apps/social/migrations';
import { createComment, deleteComment, listComments } from '../src/apps/social/repos/comments';
import { listConversations, listMessages, openConversation, sendMessage } from '../src/apps/social/repos/conversations';
import { listNotifications, markRead, unreadCount } from '../src/apps/social/repos/notifications';
import { createPost, deletePost, getPost, listPosts, postVersion, updatePost } from '../src/apps/social/repos/posts';
import { updateProfile } from '../src/apps/social/repos/users';
import { createAccount as createUser } from '../src/server/auth/accounts';
import { SessionStore } from '../src/server/auth/sessions';
import { TokenService } from '../src/server/auth/tokens';
import { CommitAnnouncer, inTransaction, readPosition, type ChannelEvent } from '../src/server/store/channel-log';
import { libraryMigrations } from '../src/server/store/library-migrations';
import { migrate } from '../src/server/store/migrate';
import { storesUnderTest, type StoreUnderTest } from './support/stores';

const stores = await storesUnderTest();

// One contract, every store: the same migrations and queries must behave the same.
for (const store of stores) {
  describe.skipIf(!store.enabled)(`store contract: ${store.name}`, () => {
    let s: StoreUnderTest;
    const announcer = new CommitAnnouncer();
    const announced: ChannelEvent[] = [];
    announcer.on((events) => announced.push(...events));
    const tx = <R>(work: Parameters<typeof inTransaction<SocialDb, R>>[2]) => inTransaction(s.db, announcer, work);

    beforeAll(async () => {
      s = await store.open();
      await migrate(s.db as Kysely<unknown>, s.dialect, [...libraryMigrations, ...socialMigrations]);
      await migrate(s.db as Kysely<unknown>, s.dialect, [...libraryMigrations, ...socialMigrations]); // idempotent
    });
    afterAll(() => s.dispose());

    it('creates users, posts and comments with versions and channel positions', async () => {
      const [a, b] = await tx(async (trx) => [
        await createUser(trx, { username: 'Ann', passwordHash: 'h', displayName: 'Ann' }),
        await createUser(trx, { username: 'ben', passwordHash: 'h', displayName: 'Ben' }),
      ]);
      expect(a!.username).toBe('ann');
      const before = await readPosition(s.db, 'feed');
      const post = await tx((trx, log) => createPost(trx, log, a!.id, 'first'));
      expect(await readPosition(s.db, 'feed')).toBe(before + 1);
      expect(typeof post.id).toBe('number');
      const edited = await tx((trx, log) => updatePost(trx, log, post.id, 'edited'));
      expect(edited.version).toBe(2);
      const comment = await tx((trx, log) => createComment(trx, log, { postId: post.id, parentId: null, authorId: b!.id, body: 'hi' }));
      const reply = await tx((trx, log) => createComment(trx, log, { postId: post.id, parentId: comment.id, authorId: a!.id, body: 'yo' }));
      expect(await unreadCount(s.db, a!.id)).toBe(1); // ben commented on ann's post
      expect(await unreadCount(s.db, b!.id)).toBe(1); // ann answered ben
      const read = await tx((trx, log) => markRead(trx, log, b!.id, undefined));
      expect(read).toHaveLength(1);
      expect(await unreadCount(s.db, b!.id)).toBe(0);
      await tx((trx, log) => deleteComment(trx, log, comment.id));
      const comments = await listComments(s.db, post.id, undefined, 10);
      expect(comments.map((c) => [c.id, c.deleted, c.body])).toEqual([[comment.id, true, null], [reply.id, false, 'yo']]);
      expect(await unreadCount(s.db, a!.id)).toBe(0); // the deleted comment's notification went with it
      const profile = await tx((trx) => updateProfile(trx, a!.id, { bio: 'hello' }));
      expect(profile.version).toBe(2);
      await tx((trx, log) => deletePost(trx, log, post.id));
      expect(await getPost(s.db, post.id)).toBeUndefined();
      expect(await listComments(s.db, post.id, undefined, 10)).toEqual([]);
      expect(await listNotifications(s.db, b!.id, undefined, 10)).toEqual([]);
    });

    it('pages newest first and keeps conversations unique per member set', async () => {
      const u = await tx((trx) => createUser(trx, { username: 'pager', passwordHash: 'h', displayName: 'P' }));
      const v = await tx((trx) => createUser(trx, { username: 'other', passwordHash: 'h', displayName: 'O' }));
      for (let i = 0; i < 5; i++) await tx((trx, log) => createPost(trx, log, u.id, `p${i}`));
      const first = await listPosts(s.db, undefined, 2);
      expect(first).toHaveLength(3);
      expect(first[0]!.id).toBeGreaterThan(first[1]!.id);
      const one = await tx((trx, log) => openConversation(trx, log, [v.id, u.id]));
      const two = await tx((trx, log) => openConversation(trx, log, [u.id, v.id]));
      expect(one.created).toBe(true);
      expect(two.created).toBe(false);
      expect(two.conversation.id).toBe(one.conversation.id);
      await tx((trx, log) => sendMessage(trx, log, { conversationId: one.conversation.id, authorId: u.id, body: 'm1', memberIds: [u.id, v.id] }));
      expect((await listMessages(s.db, one.conversation.id, undefined, 10)).map((m) => m.body)).toEqual(['m1']);
      const mine = await listConversations(s.db, v.id, undefined, 10);
      expect(mine.map((c) => c.members.map((m) => m.username).sort())).toEqual([['other', 'pager']]);
    });

    it('announces events only after commit, numbered per channel', async () => {
      const u = await tx((trx) => createUser(trx, { username: 'announcer', passwordHash: 'h', displayName: 'A' }));
      announced.length = 0;
      await expect(tx(async (trx, log) => {
        await createPost(trx, log, u.id, 'rolled back');
        throw new Error('abort');
      })).rejects.toThrow('abort');
      expect(announced).toEqual([]);
      const position = await readPosition(s.db, 'feed');
      await tx((trx, log) => createPost(trx, log, u.id, 'kept'));
      expect(announced.map((e) => [e.channel, e.offset, e.event])).toEqual([['feed', position + 1, 'post.created']]);
    });

    it('a read by id sees committed rows only, never another request\'s open transaction', async () => {
      const u = await tx((trx) => createUser(trx, { username: 'isolated', passwordHash: 'h', displayName: 'I' }));
      const post = await tx((trx, log) => createPost(trx, log, u.id, 'v1'));
      await postVersion(s.db, post.id); // compiled and cached: later reads take the fast path where there is one
      let reachedOpen!: () => void;
      const open = new Promise<void>((resolve) => (reachedOpen = resolve));
      let finish!: (commit: boolean) => void;
      const decided = new Promise<boolean>((resolve) => (finish = resolve));
      const writer = tx(async (trx, log) => {
        await updatePost(trx, log, post.id, 'v2, not yet committed');
        reachedOpen();
        if (!(await decided)) throw new Error('roll back');
      });
      await open;
      // The writer's transaction holds its write between two statements; a reader must not see it.
      const during = Promise.all([postVersion(s.db, post.id), getPost(s.db, post.id)]);
      const seenEarly = await Promise.race([during, new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 50))]);
      if (seenEarly !== 'waiting') expect(seenEarly.map((r) => r?.version)).toEqual([post.version, post.version]);
      finish(false);
      await expect(writer).rejects.toThrow('roll back');
      expect((await during).map((r) => r?.version)).toEqual([post.version, post.version]);
      expect((await getPost(s.db, post.id))?.body).toBe('v1');
      await tx((trx, log) => updatePost(trx, log, post.id, 'v2'));
      expect(await postVersion(s.db, post.id)).toEqual({ version: post.version + 1, countsVersion: 0, authorId: u.id, authorVersion: 1 });
      expect(await postVersion(s.db, 999_999)).toBeUndefined();
    });

    it('names the user of a live session only (the realtime handshake\'s one query)', async () => {
      const u = await tx((trx) => createUser(trx, { username: 'handshaker', passwordHash: 'h', displayName: 'H' }));
      const other = await tx((trx) => createUser(trx, { username: 'bystander', passwordHash: 'h', displayName: 'B' }));
      const sessions = new SessionStore(s.db, { refreshTtlSeconds: 60 });
      const session = await sessions.create(u.id);
      expect(await sessions.activeUserName(session.sessionId, u.id)).toBe('handshaker');
      expect(await sessions.activeUserName(session.sessionId, other.id)).toBeUndefined();
      expect(await sessions.activeUserName('no such session', u.id)).toBeUndefined();
      await sessions.revokeAllOf(u.id, 'test');
      expect(await sessions.activeUserName(session.sessionId, u.id)).toBeUndefined();
    });

    it('rotates refresh tokens and revokes a session on reuse', async () => {
      const sessions = new SessionStore(s.db, { refreshTtlSeconds: 60 });
      const first = await sessions.create(1);
      const second = await sessions.rotate(first.refreshToken);
      await expect(sessions.rotate(first.refreshToken)).rejects.toMatchObject({ code: 'refresh_token_reused' });
      expect(await sessions.isActive(second.sessionId)).toBe(false);
      await expect(sessions.rotate(second.refreshToken)).rejects.toMatchObject({ code: 'refresh_token_invalid' });
      const tokens = await TokenService.open(s.db, { secret: undefined, ttlSeconds: 60 });
      const again = await TokenService.open(s.db, { secret: undefined, ttlSeconds: 60 });
      const issued = await tokens.issue(1, first.sessionId);
      expect((await again.verify(issued.token)).userId).toBe(1); // the key is shared through the store
    });
  });
}
