import type { Kysely } from 'kysely';
import { hashPassword } from '../../server/auth/passwords';
import { CommitAnnouncer, inTransaction } from '../../server/store/channel-log';
import type { SocialDb } from './db';
import { createComment } from './repos/comments';
import { openConversation, sendMessage } from './repos/conversations';
import { createPost } from './repos/posts';
import { createUser } from './repos/users';

export const DEMO_PASSWORD = 'tandem-demo';
export const DEMO_USERS = [
  { username: 'alice', displayName: 'Alice Liddell' },
  { username: 'bob', displayName: 'Bob Builder' },
  { username: 'carol', displayName: 'Carol Danvers' },
];

/** Fills an empty store with demo users, posts, comments and a conversation. Returns false if not empty. */
export async function seedDemoData(db: Kysely<SocialDb>): Promise<boolean> {
  const any = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (any !== undefined) return false;
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  await inTransaction(db, new CommitAnnouncer(), async (trx, log) => {
    const [alice, bob, carol] = await Promise.all(DEMO_USERS.map((u) => createUser(trx, { ...u, passwordHash })));
    if (alice === undefined || bob === undefined || carol === undefined) throw new Error('seed users missing');
    const hello = await createPost(trx, log, alice.id, 'Hello, Tandem! REST owns state, the realtime channel owns change.');
    await createPost(trx, log, bob.id, 'Tip: GET a list, keep its ETag, and revalidate with If-None-Match. Most answers are a 304.');
    const question = await createPost(trx, log, carol.id, 'What should be WebSocket and what should stay REST?');
    const first = await createComment(trx, log, { postId: hello.id, parentId: null, authorId: bob.id, body: 'Welcome, Alice!' });
    await createComment(trx, log, { postId: hello.id, parentId: first.id, authorId: alice.id, body: 'Thanks, Bob.' });
    await createComment(trx, log, { postId: question.id, parentId: null, authorId: alice.id, body: 'Live things over the socket; everything cacheable over REST.' });
    const { conversation } = await openConversation(trx, log, [alice.id, bob.id]);
    await sendMessage(trx, log, { conversationId: conversation.id, authorId: bob.id, body: 'Hi Alice, coffee later?', memberIds: [alice.id, bob.id] });
  });
  return true;
}
