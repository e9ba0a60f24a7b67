import type { Comment, Post } from '../../src/apps/social/schemas';
import { LIMITS } from '../../src/apps/social/limits';
import { TandemClientError } from '../../src/client';
import { describeError } from './api';
import type { SessionContext } from './context';
import { actionButton, announce, h, replace, submitOnModEnter } from './dom';
import { characterCount, errorLine, setFieldError } from './forms';

/**
 * Editing your posts and comments in place, without ever overwriting someone else's edit silently.
 *
 * The editor starts from the current version read over REST (its text and strong ETag) and saves
 * with If-Match naming that version. A 412 means the post or comment changed meanwhile: it is read
 * again, and when the text is still the one the editor started from (only its counts moved: a
 * comment or a reaction bumps the tag), the save is retried once with the new tag, silently.
 * Otherwise the person sees the conflict: the newer text, their own kept in the editor, and the
 * choice to save theirs over it (with the newer tag) or to discard it.
 *
 * A card can be redrawn while its editor is open (a live edit from another device, new counts);
 * the editor lives outside the card, keyed by what it edits, and moves into the new card with its
 * text, caret and focus intact.
 */

export interface EditSpec<T> {
  /** What is edited, e.g. 'post:7': one editor per key. */
  key: string;
  what: 'post' | 'comment';
  maxLength: number;
  /** The current version's text and ETag (a fresh read). */
  read(): Promise<{ body: string; etag: string }>;
  /** Saves with If-Match. */
  write(body: string, ifMatch: string): Promise<T>;
  /** The saved version, for the view to show. */
  saved(result: T): void;
}

interface Session {
  form: HTMLFormElement;
  textarea: HTMLTextAreaElement;
  /** The text and tag of the version the editor started from (or, after "save mine anyway", of the newer one). */
  started: string;
  etag: string;
  /** The card currently showing this editor: its slot, its Edit button and its read view. */
  slot: HTMLElement;
  button: HTMLButtonElement;
  render: () => Node;
}

const open = new Map<string, Session>();

/**
 * The body of a post or comment with its Edit button: `slot` shows `render()` (the text) or the
 * open editor; `button` opens it. Call this each time the card is drawn.
 */
export function editable<T>(spec: EditSpec<T>, render: () => Node): { slot: HTMLElement; button: HTMLButtonElement } {
  const button = actionButton('Edit', () => void start(spec, slot, button, render), { 'aria-label': `Edit your ${spec.what}`, 'data-action': 'edit' });
  const slot = h('div', { class: 'editable' });
  const session = open.get(spec.key);
  if (session === undefined) {
    slot.append(render());
  } else {
    // The card was redrawn while editing: the editor moves into it as it is.
    const focused = session.form.contains(document.activeElement) ? (document.activeElement as HTMLElement) : undefined;
    const { selectionStart, selectionEnd } = session.textarea;
    Object.assign(session, { slot, button, render });
    slot.append(session.form);
    button.hidden = true;
    if (focused !== undefined) {
      queueMicrotask(() => {
        if (!focused.isConnected) return;
        focused.focus({ preventScroll: true });
        if (focused === session.textarea) session.textarea.setSelectionRange(selectionStart, selectionEnd);
      });
    }
  }
  return { slot, button };
}

async function start<T>(spec: EditSpec<T>, slot: HTMLElement, button: HTMLButtonElement, render: () => Node): Promise<void> {
  if (open.has(spec.key)) return;
  button.disabled = true;
  let current: { body: string; etag: string };
  try {
    current = await spec.read();
  } catch (e) {
    // Shown under the text (role=alert reads it out); e.g. the post was deleted meanwhile.
    slot.querySelector('.edit-failed')?.remove();
    slot.append(h('p', { class: 'form-error edit-failed', role: 'alert' }, `Could not start editing: ${describeError(e)}`));
    return;
  } finally {
    button.disabled = false;
  }
  const session = buildEditor(spec, current, { slot, button, render });
  open.set(spec.key, session);
  replace(session.slot, session.form);
  session.button.hidden = true;
  session.textarea.focus();
  session.textarea.setSelectionRange(session.textarea.value.length, session.textarea.value.length);
}

function buildEditor<T>(
  spec: EditSpec<T>,
  current: { body: string; etag: string },
  place: { slot: HTMLElement; button: HTMLButtonElement; render: () => Node },
): Session {
  const id = `edit-${spec.key.replace(':', '-')}`;
  const textarea = h('textarea', { id, name: 'body', rows: String(Math.min(12, Math.max(3, current.body.split('\n').length + 1))) });
  textarea.value = current.body;
  submitOnModEnter(textarea);
  const error = errorLine();
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const row = h('div', { class: 'composer-row editor-row' }, save, cancel);
  const conflict = h('div', { class: 'conflict', hidden: true });
  const form = h('form', { class: 'composer editor', 'data-editing': spec.key },
    h('label', { for: id, class: 'visually-hidden' }, `Edit your ${spec.what}`),
    textarea, row, conflict, error.el);
  const session: Session = { form, textarea, started: current.body, etag: current.etag, ...place };

  const close = (message?: string) => {
    open.delete(spec.key);
    replace(session.slot, session.render());
    session.button.hidden = false;
    session.button.focus();
    if (message !== undefined) announce(message);
  };
  const busy = (on: boolean) => {
    for (const b of form.querySelectorAll('button')) b.disabled = on;
    textarea.readOnly = on;
    if (on) form.setAttribute('aria-busy', 'true');
    else form.removeAttribute('aria-busy');
  };

  /** The newer version and the choice; the person's text stays in the textarea. */
  const showConflict = (newer: { body: string; etag: string }) => {
    row.hidden = true;
    const heading = h('p', { class: 'conflict-title', tabindex: '-1' }, `This ${spec.what} was changed while you were editing.`);
    replace(conflict,
      heading,
      h('p', { class: 'hint' }, 'The newer text:'),
      h('blockquote', { class: 'body newer', 'data-testid': 'newer-text' }, newer.body),
      h('p', { class: 'hint' }, 'Your text is still in the box above.'),
      h('div', { class: 'composer-row' },
        h('button', { type: 'button', class: 'primary', on: { click: () => void overwrite(newer) } }, 'Save mine anyway'),
        h('button', { type: 'button', class: 'secondary', on: { click: () => close(`Your changes were discarded; the newer ${spec.what} is shown.`) } }, 'Discard mine')));
    conflict.hidden = false;
    conflict.setAttribute('role', 'alert');
    heading.focus();
  };
  const overwrite = (newer: { body: string; etag: string }) => {
    session.started = newer.body;
    session.etag = newer.etag;
    conflict.hidden = true;
    replace(conflict);
    row.hidden = false;
    return submit();
  };

  // As in the composers: nothing is cut; over the limit the text stays and the field says by how much.
  const tooLong = () => {
    const over = characterCount(textarea.value) - spec.maxLength;
    return over > 0 ? `Too long by ${over} ${over === 1 ? 'character' : 'characters'}: at most ${spec.maxLength}.` : undefined;
  };
  textarea.addEventListener('input', () => setFieldError(textarea, tooLong()));

  const submit = async () => {
    const body = textarea.value;
    const problem = body.trim() === '' ? `Write something, or cancel to keep the ${spec.what} as it is.` : tooLong();
    if (problem !== undefined) {
      setFieldError(textarea, problem, { alert: true });
      textarea.focus();
      return;
    }
    if (body === session.started) return close();
    error.show(undefined);
    busy(true);
    try {
      for (let attempt = 0; ; attempt += 1) {
        try {
          const result = await spec.write(body, session.etag);
          // The view draws the saved version first (the editor moves into the redrawn card), then the editor closes there.
          spec.saved(result);
          close(`Your ${spec.what} was saved.`);
          return;
        } catch (e) {
          if (!(e instanceof TandemClientError && e.code === 'precondition_failed')) throw e;
          const newer = await spec.read();
          if (newer.body === session.started && attempt === 0) {
            // Only its counts moved (a comment, a reaction): the same text under a newer tag.
            session.etag = newer.etag;
            continue;
          }
          showConflict(newer);
          return;
        }
      }
    } catch (e) {
      error.show(describeError(e));
    } finally {
      busy(false);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  cancel.addEventListener('click', () => close());
  form.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();
    close();
  });
  return session;
}

/** "(edited)", with when as its tooltip (and its datetime for assistive technology). */
export function editedMark(iso: string | null): HTMLElement | null {
  if (iso === null) return null;
  const date = new Date(iso);
  return h('span', { class: 'muted edited' }, ' ', h('time', { datetime: iso, title: `Edited ${date.toLocaleString()}`, 'data-testid': 'edited' }, '(edited)'));
}

/** The current text of a post or comment and its ETag, for If-Match (a deleted comment has none). */
async function readCurrent(ctx: SessionContext, path: string): Promise<{ body: string; etag: string }> {
  const { body, etag } = await ctx.api.request<{ body: string | null }>({ method: 'GET', path, auth: 'none' });
  return { body: body.body ?? '', etag: etag ?? '' };
}

/** The editing spec of a post (GET /api/posts/:id for the current version, PATCH with If-Match). */
export function postEditing(ctx: SessionContext, post: Post, saved: (post: Post) => void): EditSpec<Post> {
  return {
    key: `post:${post.id}`,
    what: 'post',
    maxLength: LIMITS.post,
    read: () => readCurrent(ctx, `/api/posts/${post.id}`),
    write: (body, ifMatch) => ctx.api.updatePost(post.id, { body }, { ifMatch }),
    saved,
  };
}

/** The editing spec of a comment (GET /api/comments/:id, PATCH with If-Match). */
export function commentEditing(ctx: SessionContext, comment: Comment, saved: (comment: Comment) => void): EditSpec<Comment> {
  return {
    key: `comment:${comment.id}`,
    what: 'comment',
    maxLength: LIMITS.comment,
    read: () => readCurrent(ctx, `/api/comments/${comment.id}`),
    write: (body, ifMatch) => ctx.api.updateComment(comment.id, { body }, { ifMatch }),
    saved,
  };
}
