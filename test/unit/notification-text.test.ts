import { describe, expect, it } from 'vitest';
import type { Notification, UserRef } from '../../src/apps/social/schemas';
import { actorsText, describeNotification, notificationHref } from '../../web/src/inbox';

/** What the web UI says a notification is (web/src/inbox.ts): who, what, about what, and where it leads. */

const person = (id: number, displayName: string): UserRef => ({ id, username: displayName.toLowerCase(), displayName, avatarUrl: `/api/avatars/initials/X-${id}.svg` });
const bob = person(2, 'Bob');
const carol = person(3, 'Carol');
const dave = person(4, 'Dave');

function notification(overrides: Partial<Notification>): Notification {
  return {
    id: 9, kind: 'comment', actor: bob, actors: [bob], actorCount: 1, postId: 7, commentId: 12, conversationId: null, messageId: null,
    postExcerpt: 'Hello, Tandem!', commentExcerpt: 'nice', read: false, createdAt: '2026-12-07T10:00:00.000Z', version: 1, ...overrides,
  };
}

describe('actorsText', () => {
  it('names one or two people, and counts the rest', () => {
    expect(actorsText(notification({}))).toBe('Bob');
    expect(actorsText(notification({ actors: [carol, bob], actorCount: 2 }))).toBe('Carol and Bob');
    expect(actorsText(notification({ actors: [dave, carol, bob], actorCount: 3 }))).toBe('Dave and 2 others');
    expect(actorsText(notification({ actors: [dave, carol, bob], actorCount: 13 }))).toBe('Dave and 12 others');
    // A notification made before grouping has only `actor`.
    expect(actorsText(notification({ actors: [], actorCount: 1 }))).toBe('Bob');
  });
});

describe('describeNotification', () => {
  it('says what happened with its context, for every kind', () => {
    expect(describeNotification(notification({}))).toBe('Bob commented on “Hello, Tandem!”: “nice”');
    expect(describeNotification(notification({ kind: 'reply' }))).toBe('Bob replied to your comment on “Hello, Tandem!”: “nice”');
    expect(describeNotification(notification({ kind: 'mention' }))).toBe('Bob mentioned you in a comment on “Hello, Tandem!”: “nice”');
    expect(describeNotification(notification({ kind: 'mention', commentId: null, commentExcerpt: null }))).toBe('Bob mentioned you in “Hello, Tandem!”');
    expect(describeNotification(notification({ kind: 'reaction', commentId: null, commentExcerpt: null, actors: [carol, bob], actorCount: 13 }))).toBe('Carol and 12 others reacted to your post “Hello, Tandem!”');
    expect(describeNotification(notification({ kind: 'reaction', commentExcerpt: 'my comment' }))).toBe('Bob reacted to your comment “my comment”');
    expect(describeNotification(notification({ kind: 'message', postId: null, commentId: null, postExcerpt: null, commentExcerpt: null, conversationId: 4, messageId: 5 }))).toBe('Bob sent you a message');
  });

  it('names a long post by its first words and flattens line breaks', () => {
    const text = describeNotification(notification({ postExcerpt: 'Hello, Tandem! REST owns state, the realtime channel owns change and more words here…', commentExcerpt: 'two\nlines' }));
    expect(text).toBe('Bob commented on “Hello, Tandem! REST owns state, the…”: “two lines”');
  });

  it('falls back to "your post" without an excerpt', () => {
    expect(describeNotification(notification({ postExcerpt: null, commentExcerpt: null }))).toBe('Bob commented on your post');
  });
});

describe('notificationHref', () => {
  it('leads to the exact comment, the post, or the conversation', () => {
    expect(notificationHref(notification({}))).toBe('/posts/7#comment-12');
    expect(notificationHref(notification({ commentId: null }))).toBe('/posts/7');
    expect(notificationHref(notification({ kind: 'message', postId: null, commentId: null, conversationId: 4 }))).toBe('/messages/4');
  });
});
