import type { UserRef } from '../../src/apps/social/schemas';
import { h } from './dom';

/** Where a person's public profile is. */
export function profileHref(username: string): string {
  return `/u/${encodeURIComponent(username)}`;
}

/**
 * A person's avatar: the URL the server gives (an uploaded picture or the generated initials),
 * decorative next to a name, so its alt text is empty.
 */
export function avatar(user: Pick<UserRef, 'avatarUrl'>, size: 'small' | 'medium' | 'large' = 'small'): HTMLImageElement {
  const px = size === 'small' ? 32 : size === 'medium' ? 48 : 96;
  return h('img', { class: `avatar avatar-${size}`, src: user.avatarUrl, alt: '', width: px, height: px, loading: 'lazy', decoding: 'async' });
}

/** "Alice Liddell @alice", linking to the profile; `withAvatar` puts the picture in front. */
export function userLink(user: UserRef, options: { withAvatar?: boolean; handle?: boolean } = {}): HTMLAnchorElement {
  return h('a', { href: profileHref(user.username), class: 'user-link', 'data-user-link': user.username },
    options.withAvatar ? avatar(user) : null,
    h('span', { class: 'display-name' }, user.displayName),
    options.handle === false ? null : h('span', { class: 'handle' }, ` @${user.username}`));
}
