import type { SessionContext, View } from '../context';
import { h, replace } from '../dom';
import { errorLine, field, onSubmit } from '../forms';

/** Your profile: display name and bio (PATCH /api/me). */
export function profileView(ctx: SessionContext): View {
  const { me } = ctx.session;
  const displayName = h('input', { name: 'displayName', required: true, maxlength: '50', autocomplete: 'name', value: me.displayName });
  const bio = h('textarea', { name: 'bio', rows: '4', maxlength: '500' });
  bio.value = me.bio;
  const error = errorLine();
  const saved = h('p', { class: 'notice-inline', role: 'status' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'profile-title' },
    field('profile-display', 'Display name', displayName),
    field('profile-bio', 'Bio', bio, 'Up to 500 characters.'),
    error.el,
    h('div', { class: 'composer-row' }, saved, h('button', { type: 'submit', class: 'primary' }, 'Save')));
  onSubmit(form, error, async () => {
    replace(saved);
    const updated = await ctx.api.updateMe({ displayName: displayName.value.trim(), bio: bio.value });
    ctx.meChanged(updated);
    replace(saved, 'Saved.');
  });
  const el = h('section', { class: 'profile narrow' },
    h('h1', { id: 'profile-title', tabindex: '-1' }, 'Your profile'),
    h('p', { class: 'muted' }, `Signed in as @${me.username} · member since ${new Date(me.createdAt).toLocaleDateString()}`),
    form);
  return { title: 'Profile', el };
}
