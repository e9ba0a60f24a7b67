import { createAccount, hashPassword } from 'tandem/server';
import type { SocialContext } from './context';
import { createComment } from './repos/comments';
import { openConversation, sendMessage } from './repos/conversations';
import { createPost } from './repos/posts';

export const DEMO_PASSWORD = 'tandem-demo';
export const DEMO_USERS = [
  { username: 'alice', displayName: 'Alice Liddell' },
  { username: 'bob', displayName: 'Bob Builder' },
  { username: 'carol', displayName: 'Carol Danvers' },
];

/** Fills an empty store with demo users, posts, comments and a conversation. Returns false if not empty. */
export async function seedDemoData(ctx: SocialContext): Promise<boolean> {
  const any = await ctx.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (any !== undefined) return false;
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  try {
    await seed(ctx, passwordHash);
  } catch (error) {
    // Several nodes starting together on an empty store: one seeds, the others' inserts conflict.
    if ((await ctx.db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined) return false;
    throw error;
  }
  return true;
}

async function seed(ctx: SocialContext, passwordHash: string): Promise<void> {
  await ctx.transaction(async (trx, log) => {
    const [alice, bob, carol] = await Promise.all(DEMO_USERS.map((u) => createAccount(trx, { ...u, passwordHash })));
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
}
