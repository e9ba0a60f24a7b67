import type { AppContext, View } from '../context';
import { h } from '../dom';
import { errorLine, field, onSubmit } from '../forms';
import { LIMITS } from '../../../src/apps/social/limits';

function nextPath(): string {
  const next = new URLSearchParams(location.search).get('next');
  if (next === null) return '/';
  // Resolved as the browser would (it drops tabs and newlines, reads \ as /): only a URL on this site,
  // and then only its path, query and #hash, never a string from the query as it came.
  let url: URL;
  try {
    url = new URL(next, location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== location.origin || url.pathname.startsWith('/login') || url.pathname.startsWith('/signup')) return '/';
  return url.pathname + url.search + url.hash;
}

export function signInView(ctx: AppContext, notice?: string): View {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = errorLine();
  const form = h('form', { class: 'card auth-form', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in'),
    notice === undefined ? null : h('p', { class: 'notice', role: 'status' }, notice),
    field('signin-username', 'Username', username),
    field('signin-password', 'Password', password),
    error.el,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    h('p', { class: 'muted' }, 'New here? ', h('a', { href: `/signup${location.search}` }, 'Create an account'), '.'),
    h('p', { class: 'muted small' }, 'Demo accounts: alice, bob and carol, password tandem-demo.'),
  );
  onSubmit(form, error, async () => {
    const session = await ctx.api.login({ username: username.value.trim(), password: password.value });
    await ctx.signedIn(session.user);
    ctx.navigate(nextPath(), { replace: true });
  });
  return { title: 'Sign in', el: h('section', { class: 'narrow' }, form) };
}

export function signUpView(ctx: AppContext): View {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, pattern: '[A-Za-z0-9_]{3,24}', autocapitalize: 'none', spellcheck: 'false' });
  const displayName = h('input', { name: 'displayName', autocomplete: 'name', maxlength: String(LIMITS.displayName) });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: '8' });
  const error = errorLine();
  const form = h('form', { class: 'card auth-form', 'aria-labelledby': 'signup-title' },
    h('h1', { id: 'signup-title', tabindex: '-1' }, 'Create an account'),
    field('signup-username', 'Username', username, '3 to 24 letters, digits or _.'),
    field('signup-display', 'Display name (optional)', displayName),
    field('signup-password', 'Password', password, 'At least 8 characters.'),
    error.el,
    h('button', { type: 'submit', class: 'primary' }, 'Sign up'),
    h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: `/login${location.search}` }, 'Sign in'), '.'),
  );
  onSubmit(form, error, async () => {
    const name = displayName.value.trim();
    const session = await ctx.api.register({ username: username.value.trim(), password: password.value, ...(name === '' ? {} : { displayName: name }) });
    await ctx.signedIn(session.user);
    ctx.navigate(nextPath(), { replace: true });
  });
  return { title: 'Sign up', el: h('section', { class: 'narrow' }, form) };
}
