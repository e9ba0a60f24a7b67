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
  conversation_members: { conversation_id: number; user_id: number };
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
    version: number;
    created_at: string;
  };
}

export type SocialDb = Omit<TandemTables, 'users'> & SocialTables;
