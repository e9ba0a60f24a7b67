import { LIMITS } from '../../../src/apps/social/limits';
import type { PublicUser } from '../../../src/apps/social/schemas';
import { TandemClientError } from '../../../src/client';
import { describeError } from '../api';
import type { SessionContext, View } from '../context';
import { announce, h, replace } from '../dom';
import { errorLine, field, FieldProblem, onSubmit } from '../forms';
import { avatar, profileHref } from '../people';

/** What the server takes (PUT /api/me/avatar) and how big. */
const AVATAR_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
type AvatarType = (typeof AVATAR_TYPES)[number];
const AVATAR_MAX_BYTES = 5 * 1024 * 1024;

/** A sentence for each refusal of an upload, shown next to the file field. */
const AVATAR_ERRORS: Record<string, string> = {
  payload_too_large: 'That picture is bigger than 5 MB. Choose a smaller one.',
  unsupported_media_type: 'Choose a JPEG, PNG or WebP picture.',
  image_unreadable: 'That file could not be read as a picture. It may be damaged, or not the kind of picture its name says.',
  image_too_large: 'That picture has too many pixels (more than 40 megapixels). Choose a smaller one.',
};

/** An upload's error, next to the file field when it is about the picture. */
function avatarProblem(error: unknown): unknown {
  const sentence = error instanceof TandemClientError ? AVATAR_ERRORS[error.code] : undefined;
  return sentence === undefined ? error : new FieldProblem('avatar', sentence);
}

function isUploaded(user: PublicUser): boolean {
  return !user.avatarUrl.includes('/initials/');
}

/** Your picture: choose a file, see it, upload it; or remove it (back to your initials). */
function avatarSection(ctx: SessionContext): HTMLElement {
  const file = h('input', { type: 'file', name: 'avatar', accept: 'image/*', class: 'file-input' });
  const preview = h('div', { class: 'avatar-preview' }, avatar({ avatarUrl: ctx.session.me.avatarUrl }, 'large'));
  const upload = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Upload picture');
  const remove = h('button', { type: 'button', class: 'secondary', hidden: !isUploaded(ctx.session.me) }, 'Remove picture');
  const status = h('p', { class: 'notice-inline', role: 'status' });
  const error = errorLine();
  // The generation of the file chosen last: a slow read of an earlier choice never shows over it.
  let chosenGeneration = 0;
  const showPreview = (src: string) => replace(preview, avatar({ avatarUrl: src }, 'large'));
  const done = (user: PublicUser, message: string) => {
    chosenGeneration += 1;
    file.value = '';
    upload.disabled = true;
    remove.hidden = !isUploaded(user);
    ctx.meChanged(user);
    showPreview(user.avatarUrl);
    replace(status, message);
  };
  file.addEventListener('change', () => {
    replace(status);
    const generation = ++chosenGeneration;
    const chosen = file.files?.[0];
    upload.disabled = chosen === undefined;
    if (chosen === undefined) return showPreview(ctx.session.me.avatarUrl);
    // A data: URL, not a blob: one: the page's CSP lets images come from itself and data: only.
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      if (generation !== chosenGeneration || typeof reader.result !== 'string') return;
      showPreview(reader.result);
      replace(status, 'Preview. Upload it to use it.');
      preview.querySelector('img')?.addEventListener('error', () => {
        if (generation === chosenGeneration) replace(status, 'This file does not look like a picture this browser can show.');
      });
    });
    reader.readAsDataURL(chosen);
  });
  const form = h('form', { class: 'card avatar-form', 'aria-labelledby': 'avatar-title' },
    h('h2', { id: 'avatar-title' }, 'Picture'),
    h('div', { class: 'avatar-editor' },
      preview,
      h('div', { class: 'avatar-controls' },
        field('profile-avatar', 'Choose a picture', file, 'JPEG, PNG or WebP, up to 5 MB. It is cropped to a square; location and camera details are removed.'),
        h('div', { class: 'button-row' }, upload, remove),
        status)),
    error.el);
  onSubmit(form, error, async () => {
    const chosen = file.files?.[0];
    if (chosen === undefined) throw new FieldProblem('avatar', 'Choose a picture first.');
    if (!(AVATAR_TYPES as readonly string[]).includes(chosen.type)) throw new FieldProblem('avatar', AVATAR_ERRORS.unsupported_media_type!);
    if (chosen.size > AVATAR_MAX_BYTES) throw new FieldProblem('avatar', AVATAR_ERRORS.payload_too_large!);
    replace(status, 'Uploading…');
    try {
      done(await ctx.api.uploadAvatar(chosen, chosen.type as AvatarType), 'Picture saved.');
    } catch (e) {
      replace(status);
      throw avatarProblem(e);
    }
    announce('Picture saved.');
  });
  remove.addEventListener('click', () => {
    remove.disabled = true;
    error.show(undefined);
    ctx.api.removeAvatar().then(
      (user) => done(user, 'Picture removed. Your initials are shown instead.'),
      (e: unknown) => error.show(describeError(e)),
    ).finally(() => (remove.disabled = false));
  });
  return form;
}

/** Display name and bio (PATCH /api/me). */
function namesSection(ctx: SessionContext): HTMLElement {
  const { me } = ctx.session;
  const displayName = h('input', { name: 'displayName', required: true, maxlength: String(LIMITS.displayName), autocomplete: 'name', value: me.displayName });
  const bio = h('textarea', { name: 'bio', rows: '4', maxlength: String(LIMITS.bio) });
  bio.value = me.bio;
  const error = errorLine();
  const saved = h('p', { class: 'notice-inline', role: 'status' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'names-title' },
    h('h2', { id: 'names-title' }, 'Name and bio'),
    field('profile-display', 'Display name', displayName),
    field('profile-bio', 'Bio', bio, `Up to ${LIMITS.bio} characters.`),
    error.el,
    h('div', { class: 'composer-row' }, saved, h('button', { type: 'submit', class: 'primary' }, 'Save')));
  onSubmit(form, error, async () => {
    replace(saved);
    if (displayName.value.trim() === '') throw new FieldProblem('displayName', "Your display name can't be empty.");
    const updated = await ctx.api.updateMe({ displayName: displayName.value.trim(), bio: bio.value });
    ctx.meChanged(updated);
    replace(saved, 'Saved.');
  });
  return form;
}

/** Change password (POST /api/auth/password): every other device is signed out. */
function passwordSection(ctx: SessionContext): HTMLElement {
  const current = h('input', { type: 'password', name: 'currentPassword', required: true, autocomplete: 'current-password', maxlength: '128' });
  const next = h('input', { type: 'password', name: 'newPassword', required: true, autocomplete: 'new-password', minlength: '8', maxlength: '128' });
  const confirm = h('input', { type: 'password', name: 'confirmPassword', required: true, autocomplete: 'new-password', maxlength: '128' });
  // The hidden username lets a password manager store the new password under the right account.
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.session.me.username, hidden: true, readonly: true, tabindex: '-1', 'aria-hidden': 'true' });
  const error = errorLine();
  const saved = h('p', { class: 'notice-inline', role: 'status' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Password'),
    username,
    field('password-current', 'Current password', current),
    field('password-new', 'New password', next, 'At least 8 characters.'),
    field('password-confirm', 'New password again', confirm),
    error.el,
    h('div', { class: 'composer-row' }, saved, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
  onSubmit(form, error, async () => {
    replace(saved);
    if ([...next.value].length < 8) throw new FieldProblem('newPassword', 'The new password needs at least 8 characters.');
    if (next.value !== confirm.value) throw new FieldProblem('confirmPassword', 'The two new passwords are not the same.');
    if (next.value === current.value) throw new FieldProblem('newPassword', 'The new password is the one you have now. Choose another.');
    // A wrong current password (current_password_wrong) is shown next to its field by onSubmit (api.ts fieldMessages).
    await ctx.api.changePassword({ currentPassword: current.value, newPassword: next.value });
    for (const input of [current, next, confirm]) input.value = '';
    replace(saved, 'Password changed. Your other devices were signed out.');
    announce('Password changed. Your other devices were signed out.');
  });
  return form;
}

/** Your profile: picture, name and bio, password; and a link to how others see it. */
export function profileView(ctx: SessionContext): View {
  const { me } = ctx.session;
  const el = h('section', { class: 'profile narrow' },
    h('h1', { id: 'profile-title', tabindex: '-1' }, 'Your profile'),
    h('p', { class: 'muted' },
      `Signed in as @${me.username} · member since ${new Date(me.createdAt).toLocaleDateString()} · `,
      h('a', { href: profileHref(me.username) }, 'See your public profile')),
    avatarSection(ctx),
    namesSection(ctx),
    passwordSection(ctx));
  return { title: 'Profile', el };
}
