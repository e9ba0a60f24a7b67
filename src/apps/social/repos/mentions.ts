import type { Transaction } from 'kysely';
import type { ChannelLog } from 'tandem/server';
import type { SocialDb } from '../db';
import { MAX_MENTIONS, mentionedUsernames } from '../mention-syntax';
import { notify } from './notifications';

export interface MentionInput {
  /** The text as written now. */
  text: string;
  /** The text before an edit: only names it did not mention are notified (an edit re-notifies nobody). */
  before?: string;
  actorId: number;
  postId: number;
  commentId?: number;
  /** Users this same write already notified (the post's author, the answered comment's author). */
  alreadyNotified?: readonly number[];
}

/**
 * The first MAX_MENTIONS distinct names of a text. A flood of names notifies the first ten and
 * ignores the rest (they are still shown as links); capping the text, not the newly added names,
 * means an edit can never reach an eleventh person by adding names one edit at a time.
 */
function counted(text: string): string[] {
  return mentionedUsernames(text).slice(0, MAX_MENTIONS);
}

/**
 * Notifies (kind `mention`) each existing user a post or comment mentions with `@username`, once:
 * not the writer, not someone this write already notified, not unknown names, on an edit only
 * names the previous text did not have, and never twice for the same post or comment. Runs in the
 * write's transaction, so the notifications exist exactly when the text does. Returns the ids notified.
 */
export async function notifyMentions(trx: Transaction<SocialDb>, log: ChannelLog, input: MentionInput): Promise<number[]> {
  const previous = new Set(input.before === undefined ? [] : counted(input.before));
  const names = counted(input.text).filter((name) => !previous.has(name));
  if (names.length === 0) return [];
  const users = await trx.selectFrom('users').select(['id', 'username']).where('username', 'in', names).execute();
  const skip = new Set([input.actorId, ...(input.alreadyNotified ?? [])]);
  // Told about this very post or comment before (an edit that took a name out and put it back):
  // not again, or toggling a name by edits would notify its owner without end.
  if (users.length > 0) {
    let told = trx
      .selectFrom('notifications')
      .select('user_id')
      .where('kind', '=', 'mention')
      .where('post_id', '=', input.postId)
      .where('user_id', 'in', users.map((u) => u.id));
    told = input.commentId === undefined ? told.where('comment_id', 'is', null) : told.where('comment_id', '=', input.commentId);
    for (const row of await told.execute()) skip.add(row.user_id);
  }
  // In the text's order, so the notifications are created in the order the names were written.
  const ids = names
    .map((name) => users.find((u) => u.username === name)?.id)
    .filter((id): id is number => id !== undefined && !skip.has(id));
  for (const userId of ids) {
    await notify(trx, log, { userId, kind: 'mention', actorId: input.actorId, postId: input.postId, commentId: input.commentId });
  }
  return ids;
}
