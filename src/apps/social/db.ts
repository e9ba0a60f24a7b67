import type { Generated } from 'kysely';
import type { TandemTables } from 'tandem/server';

/**
 * The social app's tables, beside the library's (accounts are the library's `users`, to which the
 * app adds a `bio`). Every mutable row has a `version` used for ETags and If-Match.
 */
export interface SocialTables {
  users: TandemTables['users'] & { bio: string; avatar_hash: string | null };
  posts: {
    id: Generated<number>;
    author_id: number;
    body: string;
    version: number;
    /** Bumped whenever a count shown with the post changes (part of its ETag, not of If-Match's edit check). */
    counts_version: Generated<number>;
    /** Comments not deleted, kept with each create and delete (1006_edits_mentions). */
    comment_count: Generated<number>;
    created_at: string;
    updated_at: string;
  };
  comments: {
    id: Generated<number>;
    post_id: number;
    parent_id: number | null;
    author_id: number;
    body: string;
    deleted_at: string | null;
    /** The last edit (null: never edited; a delete does not set it). */
    edited_at: Generated<string | null>;
    version: number;
    counts_version: Generated<number>;
    created_at: string;
    updated_at: string;
  };
  conversations: {
    id: Generated<number>;
    member_key: string;
    version: number;
    created_at: string;
    last_message_at: string | null;
  };
  /** `last_read_message_id`: the member's read position (null: nothing read yet). */
  conversation_members: { conversation_id: number; user_id: number; last_read_message_id: number | null };
  messages: {
    id: Generated<number>;
    conversation_id: number;
    author_id: number;
    body: string;
    created_at: string;
  };
  /** Uploaded avatars (WebP), keyed by the content hash their URL carries; any node serves them. */
  avatars: { hash: string; bytes: Uint8Array; created_at: string };
  notifications: {
    id: Generated<number>;
    user_id: number;
    kind: 'comment' | 'reply' | 'message' | 'mention' | 'reaction';
    actor_id: number;
    post_id: number | null;
    comment_id: number | null;
    conversation_id: number | null;
    message_id: number | null;
    read_at: string | null;
    /** What repeats merge on while unread (null: this kind never merges); see migrations.ts, 1007_inbox_reads. */
    group_key: Generated<string | null>;
    /** The latest few actors, newest first, comma-separated ('' on rows made before grouping). */
    actor_ids: Generated<string>;
    actor_count: Generated<number>;
    /** The start of the post's and the comment's text when the notification was made or grouped. */
    post_excerpt: Generated<string | null>;
    comment_excerpt: Generated<string | null>;
    version: number;
    created_at: string;
  };
  /** Every distinct actor of a grouped notification (its actor_count is their number). */
  notification_actors: { notification_id: number; actor_id: number };
  /** One person's reaction on a post or comment (repos/reactions.ts); no FK: deletes remove them explicitly. */
  reactions: { target: 'post' | 'comment'; target_id: number; user_id: number; reaction: string; created_at: string };
  /** That the target's author was told of this person's reactions (once per person and target). */
  reaction_notices: { target: 'post' | 'comment'; target_id: number; user_id: number };
  /** Each person's token bucket for reaction changes, in the store so every node spends the same one. */
  reaction_budgets: { user_id: number; tokens: number; updated_ms: number };
}

export type SocialDb = Omit<TandemTables, 'users'> & SocialTables;
