import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/apps/social/limits';
import { DEMO_PASSWORD } from '../../src/apps/social/seed';
import { eventually, sleep } from '../support/wait';
import { CHROMIUM, connected, launch, type Person, SHOTS, withoutSharedWorker } from './browser';
import { endSession, HAVE_CHROMIUM, onSite, startSiteWith, tempDir } from './session';
import { type Site, siteKind } from './site';

/**
 * Issue 11's rough edges, in Chromium, with two people (alice and bob) and a phone: the 404 page,
 * errors next to their fields in words a person uses, the character counter (nothing cut, the
 * send refused), blank posts, retrying a failed send without posting twice, typing that ends when
 * its typist goes offline, deletes with Undo, Escape in a reply box, the send hint, no 401 in the
 * console of a signed-out page, and a sign-in on the API docs page that does not sign the app in.
 * The site is the same as web-ui.test.ts's: two nodes behind nginx when PostgreSQL, Redis and nginx
 * are there, else one embedded server (site.ts).
 */

const PRESENCE_GRACE_MS = 1_000;
const PHONE = { width: 390, height: 844 };

let dataDir: string | undefined;
let people: Person[] = [];
let site: Site | undefined;
let phoneBrowser: Browser | undefined;
const { url, signIn, token } = onSite(() => site);

async function shot(page: Page, what: string, width: 'desktop' | 'phone'): Promise<void> {
  // A phone's screen as it is (a full-page capture re-emulates the device and loses its touch media).
  await page.screenshot({ path: path.join(SHOTS, `rough-edges-${what}-${width}.png`), fullPage: width === 'desktop' });
}

/** The posts whose body is exactly `body`, from the API. */
async function postsWithBody(body: string): Promise<number> {
  const { items } = (await (await site!.request('/api/posts?limit=100')).json()) as { items: Array<{ body: string }> };
  return items.filter((p) => p.body === body).length;
}

/** A phone: touch, no hover, 390 px wide (its own browser, so its own cookies). */
async function phonePage(): Promise<Page> {
  phoneBrowser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  const context = await phoneBrowser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  return context.newPage();
}

/** What the field's error says and how it is tied to the field (aria-invalid, aria-describedby). */
function fieldError(page: Page, selector: string) {
  return page.locator(selector).evaluate((el) => {
    const ids = (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
    const message = ids.map((id) => document.getElementById(id)).find((m) => m?.classList.contains('field-error'));
    // Right below the field: starts under it, within a line or two.
    const box = el.getBoundingClientRect();
    const at = message?.getBoundingClientRect();
    const below = at !== undefined && at.top >= box.bottom - 1 && at.top - box.bottom < 48 && at.left < box.left + 40;
    return { invalid: el.getAttribute('aria-invalid'), message: message?.textContent ?? null, below };
  });
}

describe.skipIf(!HAVE_CHROMIUM)('the rough edges of issue 11, in a browser', () => {
  let alice: Person;
  let bob: Person;
  let phone: Page;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = tempDir('tandem-rough-');
    ({ site, people } = await startSiteWith(await siteKind(), { dataDir, env: { TANDEM_PRESENCE_GRACE_MS: String(PRESENCE_GRACE_MS) } }, [
      launch('alice'),
      // bob's tab holds its own connection, so closing it is bob leaving (test: typing ends).
      launch('bob').then(withoutSharedWorker),
    ]));
    [alice, bob] = people as [Person, Person];
    // Desktop screenshots at 1280 wide.
    await Promise.all([alice.page.setViewportSize({ width: 1280, height: 800 }), bob.page.setViewportSize({ width: 1280, height: 800 })]);
    phone = await phonePage();
  }, 120_000);

  afterAll(async () => {
    await phoneBrowser?.close();
    await endSession(people, site, [dataDir]);
  }, 30_000);

  it('a signed-out page load logs no error (no refresh without a session), and an unknown page is the app’s 404 screen', async () => {
    const { page } = bob;
    const errors: string[] = [];
    const refreshes: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => r.url().includes('/api/auth/refresh') && refreshes.push(r.url()));
    await page.goto(url('/'));
    await page.waitForURL(/\/login\?next=%2F$/);
    await page.locator('#signin-username').waitFor();
    await page.reload();
    await page.locator('#signin-username').waitFor();
    await sleep(300);
    expect(errors).toEqual([]);
    expect(refreshes).toEqual([]);

    const res = await page.goto(url('/nonexistent-page'));
    expect(res?.status()).toBe(404);
    await page.locator('[data-testid=not-found] h1', { hasText: 'Page not found' }).waitFor();
    expect(await page.title()).toBe('Page not found · Tandem');
    await shot(page, '404', 'desktop');
    // Signed out, the way back is to sign in.
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(/\/login/);
    // The API keeps its problem+json.
    const api = await page.goto(url('/api/nonexistent'));
    expect(api?.status()).toBe(404);
    expect(api?.headers()['content-type']).toMatch(/^application\/problem\+json/);

    expect((await phone.goto(url('/nonexistent-page')))?.status()).toBe(404);
    await phone.locator('[data-testid=not-found]').waitFor();
    await shot(phone, '404', 'phone');
  });

  it('a sign-in on the API docs page does not sign this browser into the app', async () => {
    const { page } = bob;
    await page.goto(url('/api/docs'));
    // What Swagger UI's Try-it-out sends: a plain fetch from the docs page, cookies allowed.
    const status = await page.evaluate(async (password) => {
      const res = await fetch('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password }) });
      return res.status;
    }, DEMO_PASSWORD);
    expect(status).toBe(200);
    expect((await bob.context.cookies()).map((c) => c.name)).toEqual([]);
    await page.goto(url('/'));
    await page.waitForURL(/\/login/);
    // The app's own sign-in asks for the cookie session, and gets it.
    await signIn(page, 'bob');
    expect((await bob.context.cookies()).map((c) => c.name).sort()).toEqual(['tandem_refresh', 'tandem_session']);
  });

  it('errors a person can cause are sentences next to their field', async () => {
    await signIn(alice.page, 'alice');
    const { page } = alice;
    await page.goto(url('/messages'));
    await page.fill('#new-conversation-members', 'nobody_here');
    await page.click('form:has(#new-conversation-members) button[type=submit]');
    await page.locator('.field-error', { hasText: 'There is no one called nobody_here.' }).waitFor();
    expect(await fieldError(page, '#new-conversation-members')).toEqual({ invalid: 'true', message: 'There is no one called nobody_here.', below: true });
    expect(await page.locator('body').textContent()).not.toMatch(/members\.0|no user named/);
    await shot(page, 'field-errors', 'desktop');
    // Editing the field takes the message back.
    await page.locator('#new-conversation-members').pressSequentially('x');
    expect(await fieldError(page, '#new-conversation-members')).toMatchObject({ invalid: null, message: null });

    await page.goto(url('/profile'));
    await page.fill('#profile-display', '   ');
    await page.click('form:has(#profile-display) button[type=submit]');
    await page.locator('.field-error', { hasText: "Your display name can't be empty." }).waitFor();
    expect(await fieldError(page, '#profile-display')).toMatchObject({ invalid: 'true', message: "Your display name can't be empty." });
    expect(await page.locator('body').textContent()).not.toMatch(/must NOT|displayName/);

    // A refusal with its own code that is about one field (a taken name) goes next to it too.
    await phone.goto(url('/signup'));
    await phone.fill('#signup-username', 'alice');
    await phone.fill('#signup-password', 'long enough 123');
    await phone.click('form.auth-form button[type=submit]');
    await phone.locator('.field-error', { hasText: 'That username is taken.' }).waitFor();
    expect(await fieldError(phone, '#signup-username')).toMatchObject({ invalid: 'true', below: true });

    await signIn(phone, 'carol');
    await phone.goto(url('/messages'));
    await phone.fill('#new-conversation-members', 'nobody_here');
    await phone.click('form:has(#new-conversation-members) button[type=submit]');
    await phone.locator('.field-error', { hasText: 'There is no one called nobody_here.' }).waitFor();
    await shot(phone, 'field-errors', 'phone');
  });

  it('a 100,000-character paste is kept whole, counted, and refused with how much too long; near the limit the counter shows; blank text says so', async () => {
    const { page } = alice;
    await page.goto(url('/'));
    await connected(page);
    const posts: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/api/posts') && posts.push(r.url()));
    const box = page.locator('#new-post');
    const counter = page.locator('form:has(#new-post) [data-testid=counter]');

    await box.fill('a'.repeat(LIMITS.post - 20));
    expect(await counter.isVisible()).toBe(true);
    expect(await counter.textContent()).toBe('4,980 / 5,000');
    expect(await fieldError(page, '#new-post')).toMatchObject({ invalid: null });

    await box.fill('b'.repeat(100_000));
    expect((await box.inputValue()).length).toBe(100_000);
    expect(await counter.textContent()).toBe('100,000 / 5,000');
    expect(await fieldError(page, '#new-post')).toEqual({ invalid: 'true', message: 'Too long by 95,000 characters: at most 5,000.', below: true });
    await shot(page, 'counter-over', 'desktop');
    // The button says it is unavailable (aria-disabled); a click and Ctrl+Enter are refused all the same.
    expect(await page.locator('form:has(#new-post) button[type=submit]').getAttribute('aria-disabled')).toBe('true');
    await page.click('form:has(#new-post) button[type=submit]', { force: true });
    await page.locator('#new-post').press('Control+Enter');
    await sleep(300);
    expect(posts).toEqual([]);
    expect((await box.inputValue()).length).toBe(100_000);

    await box.fill('   \n  ');
    expect(await counter.isVisible()).toBe(false);
    await page.click('form:has(#new-post) button[type=submit]');
    await page.locator('.field-error', { hasText: 'Write something first.' }).waitFor();
    expect(await fieldError(page, '#new-post')).toMatchObject({ invalid: 'true', message: 'Write something first.' });
    expect(posts).toEqual([]);

    await phone.goto(url('/'));
    await phone.locator('#new-post').fill('c'.repeat(5_120));
    await phone.locator('.field-error', { hasText: 'Too long by 120 characters' }).waitFor();
    // A phone has no keyboard shortcut to show; a desktop does.
    expect(await phone.evaluate(() => matchMedia('(hover: none)').matches)).toBe(true);
    expect(await phone.locator('.composer-hint').isVisible()).toBe(false);
    expect(await page.locator('form:has(#new-post) .composer-hint').textContent()).toBe('Ctrl+Enter to send');
    await shot(phone, 'counter-over', 'phone');
  }, 40_000);

  it('a send whose answer was lost: Retry sends it again with the same key (posted once), and the error goes', async () => {
    const { page } = alice;
    await page.goto(url('/'));
    await connected(page);
    const body = `Lost answer ${Date.now()}`;
    const keys: string[] = [];
    // The server gets every attempt; the page never sees an answer.
    await page.route('**/api/posts', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      keys.push(route.request().headers()['idempotency-key']!);
      await route.fetch();
      await route.abort('connectionreset');
    });
    await page.fill('#new-post', body);
    await page.click('form:has(#new-post) button[type=submit]');
    const error = page.locator('form:has(#new-post) .form-error', { hasText: 'Cannot reach the server' });
    await error.waitFor({ timeout: 15_000 });
    const retry = page.locator('form:has(#new-post) button.retry');
    expect(await retry.isVisible()).toBe(true);
    expect(await page.inputValue('#new-post')).toBe(body);
    await page.unroute('**/api/posts');
    await retry.click();
    await page.locator('[data-testid=post-body]', { hasText: body }).waitFor();
    expect(await error.count()).toBe(0);
    expect(await retry.isVisible()).toBe(false);
    expect(await page.inputValue('#new-post')).toBe('');
    expect(new Set(keys).size).toBe(1);
    expect(await postsWithBody(body)).toBe(1);
    expect(await page.locator('[data-testid=post-body]', { hasText: body }).count()).toBe(1);
  });

  it('a send that failed offline goes by itself once the page is connected again', async () => {
    const { page } = bob;
    await page.goto(url('/'));
    await connected(page);
    const body = `Sent when back ${Date.now()}`;
    await bob.context.setOffline(true);
    try {
      await page.locator('[data-testid=connection][data-state=offline]').waitFor({ timeout: 5_000 });
      await page.fill('#new-post', body);
      await page.click('form:has(#new-post) button[type=submit]');
      await page.locator('form:has(#new-post) .form-error', { hasText: 'Cannot reach the server' }).waitFor({ timeout: 15_000 });
    } finally {
      await bob.context.setOffline(false);
    }
    await connected(page);
    await page.locator('[data-testid=post-body]', { hasText: body }).waitFor({ timeout: 10_000 });
    await eventually(async () => (await page.locator('form:has(#new-post) .form-error').textContent()) === '', 'the error to go');
    expect(await postsWithBody(body)).toBe(1);
  });

  it('deleting a post or a comment: gone at once, Undo for a few seconds, sent only after; both the same', async () => {
    const body = `Undo me ${Date.now()}`;
    const alicePost = (await (await site!.request('/api/posts', { method: 'POST', token: await token('alice'), json: { body } })).json()) as { id: number };
    await Promise.all([alice.page.goto(url('/')), bob.page.goto(url('/'))]);
    const card = (page: Page) => page.locator(`#post-${alicePost.id}`);
    await card(alice.page).waitFor();
    await card(bob.page).waitFor();

    await card(alice.page).getByRole('button', { name: 'Delete this post' }).click();
    await card(alice.page).waitFor({ state: 'hidden' });
    const toast = alice.page.locator('[data-testid=toast]');
    expect(await toast.textContent()).toBe('Post deleted. Undo');
    expect(await alice.page.locator('.toast-region').getAttribute('role')).toBe('status');
    await shot(alice.page, 'undo-toast', 'desktop');
    await sleep(500);
    expect(await card(bob.page).isVisible()).toBe(true); // nothing sent yet
    // Undo from the keyboard: the post is back, and nothing was deleted.
    await alice.page.locator('[data-testid=undo]').focus();
    await alice.page.keyboard.press('Enter');
    await card(alice.page).waitFor();
    expect(await toast.count()).toBe(0);
    expect((await site!.request(`/api/posts/${alicePost.id}`)).status).toBe(200);

    // Again, and this time the toast runs out: then the delete goes, and bob sees it.
    await card(alice.page).getByRole('button', { name: 'Delete this post' }).click();
    const deletedAt = Date.now();
    await card(bob.page).waitFor({ state: 'detached', timeout: 12_000 });
    expect(Date.now() - deletedAt).toBeGreaterThan(5_000);

    // A comment, deleted and then the page left at once: the delete goes as the page goes.
    const comment = (await (await site!.request(`/api/posts/${await firstPostId()}/comments`, { method: 'POST', token: await token('alice'), json: { body: `Comment to undo ${Date.now()}` } })).json()) as { id: number; postId: number };
    await alice.page.goto(url(`/posts/${comment.postId}`));
    const item = alice.page.locator(`#comment-${comment.id} > article`);
    await item.waitFor();
    await item.getByRole('button', { name: 'Delete your comment' }).click();
    await item.waitFor({ state: 'hidden' });
    expect(await toast.textContent()).toBe('Comment deleted. Undo');
    await alice.page.goto(url('/messages'));
    await eventually(async () => {
      const { items } = (await (await site!.request(`/api/posts/${comment.postId}/comments?limit=100`)).json()) as { items: Array<{ id: number; deleted: boolean }> };
      return items.find((c) => c.id === comment.id)?.deleted === true;
    }, 'the comment deleted as the page was left');

    const phonePost = (await (await site!.request('/api/posts', { method: 'POST', token: await token('carol'), json: { body: `Phone undo ${Date.now()}` } })).json()) as { id: number };
    await phone.goto(url('/'));
    await phone.locator(`#post-${phonePost.id}`).getByRole('button', { name: 'Delete this post' }).click();
    await phone.locator('[data-testid=toast]').waitFor();
    await shot(phone, 'undo-toast', 'phone');
    await phone.locator('[data-testid=undo]').click();
    await phone.locator(`#post-${phonePost.id}`).waitFor();
  }, 40_000);

  it('Escape or Cancel closes a reply box (focus back on Reply, the draft kept); a Mac says ⌘+Enter; a comment link focuses the comment', async () => {
    const id = await firstPostId();
    const top = (await (await site!.request(`/api/posts/${id}/comments`, { method: 'POST', token: await token('bob'), json: { body: 'Reply to me' } })).json()) as { id: number };
    const page = await alice.context.newPage();
    await page.addInitScript(() => {
      Object.defineProperty(navigator, 'platform', { get: () => 'MacIntel' });
      Object.defineProperty(navigator, 'userAgentData', { get: () => ({ platform: 'macOS' }) });
    });
    await page.goto(url(`/posts/${id}`));
    await page.locator(`#comment-${top.id}`).waitFor();
    await page.locator(`#comment-${top.id} > article`).getByRole('button', { name: 'Reply to bob' }).click();
    await page.locator(`#reply-${top.id}`).fill('half a thought');
    expect(await page.locator(`form:has(#reply-${top.id}) .composer-hint`).textContent()).toBe('⌘+Enter to send');
    await page.keyboard.press('Escape');
    expect(await page.locator(`#reply-${top.id}`).count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Reply to bob');
    await page.keyboard.press('Enter');
    expect(await page.inputValue(`#reply-${top.id}`)).toBe('half a thought');
    // A phone has no Escape: the box has a Cancel button, and Reply says whether its box is open.
    const reply = page.locator(`#comment-${top.id} > article`).getByRole('button', { name: 'Reply to bob' });
    expect(await reply.getAttribute('aria-expanded')).toBe('true');
    await page.locator(`form:has(#reply-${top.id})`).getByRole('button', { name: 'Cancel' }).click();
    expect(await page.locator(`#reply-${top.id}`).count()).toBe(0);
    expect(await reply.getAttribute('aria-expanded')).toBe('false');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Reply to bob');
    // A link to a comment (a notification's) puts the keyboard there, not at the top of the page.
    await page.close();
    const linked = await alice.context.newPage();
    linked.setDefaultTimeout(5_000);
    await linked.goto(url(`/posts/${id}#comment-${top.id}`));
    await linked.locator(`#comment-${top.id}.highlight`).waitFor();
    await linked.waitForFunction((cid) => document.activeElement?.closest(`#comment-${cid}`) != null, top.id);
    await linked.close();
  });

  it('"bob is typing…" ends when bob goes offline, not seconds later', async () => {
    const conversation = (await (await site!.request('/api/conversations', { method: 'POST', token: await token('alice'), json: { members: ['bob'] } })).json()) as { id: number };
    await Promise.all([alice.page.goto(url(`/messages/${conversation.id}`)), bob.page.goto(url(`/messages/${conversation.id}`))]);
    await alice.page.locator('.title-row [data-user=bob][data-presence=online]').waitFor({ timeout: 10_000 });
    await connected(bob.page);
    await bob.page.click('#new-message');
    await bob.page.locator('#new-message').pressSequentially('I was about to', { delay: 20 });
    const typing = alice.page.locator('[data-testid=typing]');
    await alice.page.locator('[data-testid=typing]', { hasText: 'bob is typing…' }).waitFor({ timeout: 5_000 });
    const typedAt = Date.now();
    // bob's only page goes (no "typing off" is sent): his presence ends after the grace period.
    await bob.page.close({ runBeforeUnload: false });
    // Nothing told alice that bob stopped: within the grace period he is online and still "typing".
    await sleep(200);
    expect(await typing.textContent()).toBe('bob is typing…');
    expect(await alice.page.locator('.title-row [data-user=bob][data-presence=online]').count()).toBe(1);
    await alice.page.locator('.title-row [data-user=bob][data-presence=offline]').waitFor({ timeout: PRESENCE_GRACE_MS + 5_000 });
    await eventually(async () => (await typing.textContent()) === '', 'the typing indicator to go with bob', 300);
    expect(Date.now() - typedAt, 'well before a typing indicator times out on its own (6 s)').toBeLessThan(5_000);
  });

  it('saw no uncaught error, CSP violation or dialog', () => {
    for (const person of people) expect(person.problems, person.username).toEqual([]);
  });
});

async function firstPostId(): Promise<number> {
  const { items } = (await (await site!.request('/api/posts')).json()) as { items: Array<{ id: number }> };
  return items[0]!.id;
}
