import type { PublicUser } from '../../../src/apps/social/schemas';
import { TandemClientError } from '../../../src/client';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { announce, h, replace } from '../dom';
import { errorLine } from '../forms';
import { avatar } from '../people';
import { livePostList } from '../post-list';
import { richText } from '../rich-text';

/** "March 2026": when someone joined. */
function joined(iso: string): HTMLTimeElement {
  return h('time', { datetime: iso }, new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'long' }));
}

/** The profile's head: picture, name, @handle, bio, join date, and what you can do (message them, or edit yours). */
function profileHead(user: PublicUser, ctx: SessionContext): HTMLElement {
  const mine = user.id === ctx.session.me.id;
  const error = errorLine();
  const message = async (button: HTMLButtonElement) => {
    button.disabled = true;
    error.show(undefined);
    try {
      const conversation = await ctx.api.openConversation({ members: [user.username] });
      ctx.navigate(`/messages/${conversation.id}`);
    } catch (e) {
      error.show(describeError(e));
      button.disabled = false;
    }
  };
  const messageButton: HTMLButtonElement = h('button', { type: 'button', class: 'primary', on: { click: () => void message(messageButton) } }, 'Message');
  return h('header', { class: 'card profile-head', 'data-user-id': user.id },
    avatar(user, 'large'),
    h('div', { class: 'profile-names' },
      h('h1', { tabindex: '-1' }, h('span', { class: 'display-name' }, user.displayName)),
      h('p', { class: 'handle' }, `@${user.username}`),
      user.bio.trim() === '' ? null : h('p', { class: 'bio' }, ...richText(user.bio)),
      h('p', { class: 'muted joined' }, 'Joined ', joined(user.createdAt))),
    h('div', { class: 'profile-actions' },
      mine ? h('a', { href: '/profile', class: 'button secondary' }, 'Edit your profile') : messageButton,
      error.el));
}

function nobodyHere(username: string): View {
  return {
    title: 'No such person',
    el: h('section', { class: 'card narrow not-found' },
      h('h1', { tabindex: '-1' }, 'No such person'),
      h('p', {}, `Nobody here goes by @${username}. The name may be misspelt, or the account is gone.`),
      h('p', {}, h('a', { href: '/' }, 'Back to the feed'))),
  };
}

/**
 * A public profile (/u/:username): the person over REST (GET /api/users/:username), their posts
 * (GET /api/users/:username/posts, newest first) kept live from the `feed` channel the list names,
 * and their name and picture from `profile.updated` on `people`.
 */
export function userView(ctx: SessionContext, params: Record<string, string>): View {
  const username = params.username ?? '';
  const el = h('section', { class: 'user-page' }, h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  const view: View = { title: `@${username}`, el };
  let user: PublicUser | undefined;
  const head = h('div', { class: 'profile-head-slot' });
  const posts = livePostList(ctx, {
    load: (page) => ctx.api.listUserPosts(username, page),
    accept: (post) => post.author.id === user?.id,
    created: (post) => {
      if (post.author.id !== ctx.session.me.id) announce(`New post from ${post.author.displayName}`);
    },
    empty: () => `${user?.displayName ?? username} has not posted yet.`,
    failed: 'Could not load the posts',
  });
  const showHead = (person: PublicUser) => {
    user = person;
    view.title = `${person.displayName} (@${person.username})`;
    document.title = `${view.title} · Tandem`;
    replace(head, profileHead(person, ctx));
  };

  let disposed = false;
  const stopPeople = ctx.session.people.onChange((person) => {
    if (person.id === user?.id && person.version >= user.version) showHead(person);
  });
  ctx.api.getUser(username).then(
    (person) => {
      if (disposed) return;
      showHead(ctx.session.people.newest(person));
      replace(el, head, h('h2', { class: 'section-title' }, 'Posts'), ...posts.elements);
      posts.start();
    },
    (e: unknown) => {
      if (disposed) return;
      if (e instanceof TandemClientError && e.status === 404) {
        const missing = nobodyHere(username);
        document.title = `${missing.title} · Tandem`;
        replace(el, missing.el);
        missing.el.querySelector('h1')?.focus();
        return;
      }
      replace(el, h('p', { class: 'form-error', role: 'alert' }, `Could not load this profile: ${describeError(e)}`));
    },
  );
  view.dispose = () => {
    disposed = true;
    stopPeople();
    posts.stop();
  };
  return view;
}
