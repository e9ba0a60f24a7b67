import type { UserRef } from '../../src/apps/social/schemas';
import { h, timeAgo, type Child } from './dom';

/** Where a person's public profile is. */
export function profileHref(username: string): string {
  return `/u/${encodeURIComponent(username)}`;
}

/**
 * The newest name and picture of each person this page has heard of through `profile.updated`
 * (people-live.ts). Views keep the posts, comments and messages they loaded, with the names those
 * had then: drawing a person goes through here, so a card built later from old data shows the new name.
 */
const latest = new Map<number, Pick<UserRef, 'displayName' | 'avatarUrl'>>();

/** Records a person's current name and picture (from a `profile.updated`). */
export function rememberPerson(user: Pick<UserRef, 'id' | 'displayName' | 'avatarUrl'>): void {
  latest.set(user.id, { displayName: user.displayName, avatarUrl: user.avatarUrl });
}

/** The person as this page knows them now: the newest name and picture heard of, else as given. */
export function freshest<T extends Pick<UserRef, 'id' | 'displayName' | 'avatarUrl'>>(user: T): T {
  const known = latest.get(user.id);
  return known === undefined ? user : { ...user, ...known };
}

/** Forgets what was heard (signing out). */
export function forgetPeople(): void {
  latest.clear();
}

/**
 * A person's avatar: the URL the server gives (an uploaded picture or the generated initials),
 * decorative next to a name, so its alt text is empty. With the user's id it is marked
 * `data-user-id`, and a profile edit swaps its picture live.
 */
export function avatar(user: Pick<UserRef, 'avatarUrl'> & { id?: number }, size: 'small' | 'medium' | 'large' = 'small'): HTMLImageElement {
  const px = size === 'small' ? 32 : size === 'medium' ? 48 : 96;
  const src = user.id === undefined ? user.avatarUrl : (latest.get(user.id)?.avatarUrl ?? user.avatarUrl);
  return h('img', { class: `avatar avatar-${size}`, src, alt: '', width: px, height: px, loading: 'lazy', decoding: 'async', 'data-user-id': user.id });
}

/** "Alice Liddell @alice", linking to the profile; `withAvatar` puts the picture in front. Kept current by profile edits (data-user-id). */
export function userLink(user: UserRef, options: { withAvatar?: boolean; handle?: boolean } = {}): HTMLAnchorElement {
  const person = freshest(user);
  return h('a', { href: profileHref(person.username), class: 'user-link', 'data-user-link': person.username, 'data-user-id': person.id },
    options.withAvatar ? avatar(person) : null,
    h('span', { class: 'display-name' }, person.displayName),
    options.handle === false ? null : h('span', { class: 'handle' }, ` @${person.username}`));
}

/**
 * Redraws every drawing of a person on the page: pictures (`img[data-user-id]`) get the new
 * avatar, and every other element marked with the id shows the new name in its `.display-name`.
 */
export function redrawPerson(root: ParentNode, user: Pick<UserRef, 'id' | 'displayName' | 'avatarUrl'>): void {
  for (const el of root.querySelectorAll<HTMLElement>(`[data-user-id="${user.id}"]`)) {
    if (el instanceof HTMLImageElement) {
      if (el.getAttribute('src') !== user.avatarUrl) el.src = user.avatarUrl;
      continue;
    }
    const name = el.querySelector('.display-name');
    if (name !== null && name.textContent !== user.displayName) name.textContent = user.displayName;
  }
}

/** A post's or comment's header: who (picture and name), " · ", when, then `after` (the "(edited)" mark). */
export function byline(author: UserRef, createdAt: string, ...after: Child[]): HTMLElement {
  return h('header', { class: 'meta' },
    h('span', { class: 'author' }, userLink(author, { withAvatar: true })),
    h('span', { 'aria-hidden': 'true' }, ' · '),
    timeAgo(createdAt),
    ...after);
}
