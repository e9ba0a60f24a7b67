import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/apps/social/seed';
import { eventually, sleep } from '../support/wait';
import { bellCount, CHROMIUM, commentCount, connected, connection, launch, mark, type Person, recordConnection, SHOTS, shot, stillMarked, withoutSharedWorker } from './browser';
import { endSession, HAVE_CHROMIUM, IN_CI, onSite, startSiteWith, tempDir } from './session';
import { realtimeRefusal, type Site, siteKind } from './site';

/**
 * The web UI end to end: the built bundle, served by a real site, driven in Debian's chromium by
 * two people at once (alice in one browser, bob in another). The site is two nodes of one cluster
 * behind nginx (deploy/nginx.conf) when PostgreSQL, Redis and nginx are there (always under
 * CI=true), else one embedded server, said loudly (site.ts); the browsers only know its URL, so
 * alice and bob may be on different nodes. Without chromium these tests skip, loudly, except under
 * CI=true, where they fail (.ci/run installs chromium).
 */

const PRESENCE_GRACE_MS = 1_000;

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn([
    '',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    `!! SKIPPING the web UI browser tests: no chromium at ${CHROMIUM}.`,
    '!! Install it (apt-get install -y chromium) or set TANDEM_CHROMIUM; under CI=true they fail instead.',
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
    '',
  ].join('\n'));
}

const SITE = HAVE_CHROMIUM || IN_CI ? await siteKind() : 'embedded';
const RESTART = SITE === 'cluster'
  ? 'each node in turn stops while both are open and comes back behind the same nginx'
  : 'the server restarts while both are open';

let dataDir: string | undefined;
let people: Person[] = [];
let site: Site | undefined;
const { url, postIdOf: postId } = onSite(() => site);

async function signIn(person: Person): Promise<void> {
  const { page } = person;
  await page.goto(url('/'));
  await page.waitForURL(/\/login\?next=%2F$/);
  await page.fill('#signin-username', person.username);
  await page.fill('#signin-password', DEMO_PASSWORD);
  await page.click('form.auth-form button[type=submit]');
  await page.waitForURL(url('/'));
  await page.locator('h1', { hasText: 'Feed' }).waitFor();
  await connected(page);
}

async function apiLogin(username: string): Promise<string> {
  const res = await site!.request('/api/auth/login', { method: 'POST', json: { username, password: DEMO_PASSWORD } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('the web UI in a real browser', () => {
  let alice: Person;
  let bob: Person;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`CI=true but there is no chromium at ${CHROMIUM}: .ci/run installs it with apt-get`);
    // Only this run's screenshots: an old one must not pass for a screen that no longer looks like that.
    // This suite's own (numbered) ones: another suite may be writing its own meanwhile.
    fs.mkdirSync(SHOTS, { recursive: true });
    for (const name of fs.readdirSync(SHOTS)) if (/^\d\d-/.test(name)) fs.rmSync(path.join(SHOTS, name), { force: true });
    dataDir = tempDir('tandem-e2e-');
    ({ site, people } = await startSiteWith(SITE, { dataDir, env: { TANDEM_PRESENCE_GRACE_MS: String(PRESENCE_GRACE_MS) } }, [launch('alice'), launch('bob')]));
    // The built UI, not the "web UI not built" page.
    expect(await (await site!.request('/')).text()).toContain('<div id="app">');
    expect(await realtimeRefusal(site!.url), 'a WebSocket from the site’s own origin').toBeUndefined();
    [alice, bob] = people as [Person, Person];
    await shotOfSignIn(alice.page);
    await Promise.all([signIn(alice), signIn(bob)]);
    await shot(alice.page, '02-feed');
  }, 120_000);

  afterAll(() => endSession(people, site, [dataDir]), 30_000);

  it('A comments on a post B is viewing: B sees it in under a second, without reloading, and it is read on sight (the bell does not count it)', async () => {
    const id = await postId('Tip: GET a list');
    await Promise.all([alice.page.goto(url(`/posts/${id}`)), bob.page.goto(url(`/posts/${id}`))]);
    for (const { page } of [alice, bob]) {
      await page.locator('#post-' + id).waitFor();
      await connected(page);
    }
    await mark(bob.page);

    const text = `Live from alice ${Date.now()}`;
    await alice.page.fill('#new-comment', text);
    const started = Date.now();
    await alice.page.click('form:has(#new-comment) button[type=submit]');
    await bob.page.locator('[data-testid=comment-body]', { hasText: text }).waitFor({ timeout: 5_000 });
    const elapsed = Date.now() - started;
    expect(elapsed, `bob saw the comment after ${elapsed} ms`).toBeLessThan(1_000);
    expect(await stillMarked(bob.page)).toBe(true);
    expect(await commentCount(bob.page, text)).toBe(1);
    expect(await commentCount(alice.page, text)).toBe(1);
    // The post is bob's, and he is reading it: the notification arrives and is marked read at once.
    const bobToken = await apiLogin('bob');
    await eventually(async () => {
      const inbox = (await (await site!.request('/api/notifications', { token: bobToken })).json()) as { items: Array<{ postId: number | null; actor: { username: string }; read: boolean }>; unreadCount: number };
      const newest = inbox.items.find((n) => n.postId === id && n.actor.username === 'alice');
      return newest?.read === true && (await bellCount(bob.page)) === inbox.unreadCount;
    }, 'the comment’s notification read on sight, and the bell to agree', 5_000);
    await shot(bob.page, '03-post-live-comment');
  });

  it('A comments while B is elsewhere: B’s bell counts it; B reads the notification and marks everything read: the bell empties', async () => {
    await bob.page.click('a.bell');
    await bob.page.waitForURL(url('/notifications'));
    await bob.page.locator('h1', { hasText: 'Notifications' }).waitFor();
    const unreadBefore = await bellCount(bob.page);
    const aliceToken = await apiLogin('alice');
    const res = await site!.request(`/api/posts/${await postId('Tip: GET a list')}/comments`, { method: 'POST', token: aliceToken, json: { body: `While bob reads his notifications ${Date.now()}` } });
    expect(res.status).toBe(201);
    await eventually(async () => (await bellCount(bob.page)) === unreadBefore + 1, 'bob’s unread count to go up', 5_000);
    const item = bob.page.locator('.notification.unread', { hasText: 'Alice Liddell commented on “Tip: GET a list' });
    await item.first().waitFor();
    await shot(bob.page, '04-notifications');
    await bob.page.click('button:has-text("Mark all read")');
    await bob.page.locator('.notification.unread').first().waitFor({ state: 'detached' });
    await eventually(async () => (await bellCount(bob.page)) === 0, 'an empty bell');
    expect(await bob.page.locator('a.bell').getAttribute('aria-label')).toBe('Notifications');
  });

  it('the skip link moves focus to the content and keeps the page: a draft survives, Back too', async () => {
    const { page } = alice;
    await page.click('nav a[href="/"]');
    await page.locator('h1', { hasText: 'Feed' }).waitFor();
    const draft = `A draft ${Date.now()}`;
    await page.fill('#new-post', draft);
    await page.focus('a.skip-link');
    await page.keyboard.press('Enter');
    await page.waitForURL(url('/#main'));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(await page.inputValue('#new-post')).toBe(draft);
    await page.goBack();
    await page.waitForURL(url('/'));
    expect(await page.inputValue('#new-post')).toBe(draft);
    await page.fill('#new-post', '');
  });

  it('B types in their conversation: A sees the typing indicator, then the message; each sees the other online', async () => {
    for (const { page } of [alice, bob]) {
      await page.click('nav a[href="/messages"]');
      await page.locator('.conversation-link').first().click();
      await page.waitForURL(/\/messages\/\d+$/);
      await page.locator('[data-testid=message-body]').first().waitFor();
    }
    expect(alice.page.url()).toBe(bob.page.url());
    await alice.page.locator('.title-row [data-user=bob][data-presence=online]').waitFor();
    await bob.page.locator('.title-row [data-user=alice][data-presence=online]').waitFor();

    const text = `Typing test ${Date.now()}`;
    await bob.page.click('#new-message');
    await bob.page.locator('#new-message').pressSequentially(text.slice(0, 8), { delay: 40 });
    const typing = alice.page.locator('[data-testid=typing]');
    await alice.page.locator('[data-testid=typing]', { hasText: 'bob is typing…' }).waitFor({ timeout: 5_000 });
    await shot(alice.page, '05-conversation-typing');
    await bob.page.locator('#new-message').pressSequentially(text.slice(8), { delay: 10 });
    await bob.page.keyboard.press('Enter');
    await alice.page.locator('[data-testid=message-body]', { hasText: text }).waitFor({ timeout: 5_000 });
    await eventually(async () => (await typing.textContent()) === '', 'the typing indicator to go', 5_000);
    expect(await alice.page.locator('[data-testid=message-body]', { hasText: text }).count()).toBe(1);
    expect(await bob.page.locator('[data-testid=message-body]', { hasText: text }).count()).toBe(1);
    expect(await bob.page.inputValue('#new-message')).toBe('');
    await shot(alice.page, '06-conversation-message');
  });

  it('after a reply, focus is on the Reply button; after a delete, on what is left; a deleted or missing post has no comment form', async () => {
    const carol = await apiLogin('carol');
    const post = (await (await site!.request('/api/posts', { method: 'POST', token: carol, json: { body: `Soon gone ${Date.now()}` } })).json()) as { id: number };
    const top = (await (await site!.request(`/api/posts/${post.id}/comments`, { method: 'POST', token: carol, json: { body: 'Reply to me' } })).json()) as { id: number };
    const { page } = alice;
    await page.goto(url(`/posts/${post.id}`));
    await page.locator(`#comment-${top.id}`).waitFor();
    await connected(page);
    const focused = () => page.evaluate(() => {
      const el = document.activeElement;
      return { tag: el?.tagName, label: el?.getAttribute('aria-label'), comment: el?.closest('.comment')?.id, text: el?.textContent };
    });

    await page.getByRole('button', { name: 'Reply to carol' }).click();
    await page.fill(`#reply-${top.id}`, 'A reply from alice');
    await page.keyboard.press('Control+Enter');
    const reply = page.locator(`#comment-${top.id} .replies > .comment`);
    await reply.waitFor();
    await eventually(async () => (await page.locator(`#reply-${top.id}`).count()) === 0, 'the reply form to close');
    expect(await focused()).toMatchObject({ tag: 'BUTTON', label: 'Reply to carol' });

    // A delete hides the comment at once and offers Undo (focus there, not lost with the comment);
    // Escape in the toast sends it now instead of after a few seconds (rough-edges.test.ts covers Undo).
    const replyId = await reply.getAttribute('data-comment-id');
    await page.getByRole('button', { name: 'Delete your comment' }).focus();
    await page.keyboard.press('Enter');
    expect(await focused()).toMatchObject({ tag: 'BUTTON', text: 'Undo' });
    await page.keyboard.press('Escape');
    await page.locator(`#comment-${replyId} .body.deleted`).waitFor({ timeout: 5_000 });

    await page.fill('#new-comment', 'A draft on a post about to go');
    expect((await site!.request(`/api/posts/${post.id}`, { method: 'DELETE', token: carol })).status).toBe(204);
    await page.locator('.notice', { hasText: 'This post was deleted.' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#new-comment').isVisible()).toBe(false);
    expect(await page.locator('form.composer:visible, button:has-text("Reply"):visible').count()).toBe(0);
    expect(await focused()).toMatchObject({ text: 'This post was deleted.' });

    await page.goto(url('/posts/99999'));
    await page.locator('.notice', { hasText: 'Could not load this post' }).waitFor();
    expect(await page.locator('#new-comment').isVisible()).toBe(false);
  });

  it('renders hostile content as text: a post with <script> and <img onerror> runs nothing, here and live elsewhere', async () => {
    for (const { page } of [alice, bob]) {
      await page.click('nav a[href="/"]');
      await page.locator('h1', { hasText: 'Feed' }).waitFor();
    }
    const hostile = `<img src=x onerror="window.pwned='img'"><script>window.pwned='script'</script><b>bold?</b> ${Date.now()}`;
    await alice.page.fill('#new-post', hostile);
    await alice.page.click('form:has(#new-post) button[type=submit]');
    for (const { page } of [alice, bob]) {
      const body = page.locator('[data-testid=post-body]', { hasText: hostile });
      await body.waitFor({ timeout: 5_000 });
      expect(await body.textContent()).toBe(hostile);
      expect(await body.evaluate((el) => el.children.length)).toBe(0);
      expect(await page.locator('img[src=x], b:has-text("bold?")').count()).toBe(0);
      await sleep(100); // an onerror would have fired by now
      expect(await page.evaluate(() => (window as unknown as { pwned?: string }).pwned)).toBeUndefined();
    }
    await shot(bob.page, '07-feed-hostile-post-as-text');
  });

  it('three tabs of one person reload at the same moment and all stay signed in (refreshes take turns)', async () => {
    const others = [await alice.context.newPage(), await alice.context.newPage()];
    try {
      for (const page of others) {
        await page.goto(url('/'));
        await connected(page);
      }
      // Each load restores the session with the refresh cookie: at the same moment, without turns,
      // they would present one refresh token twice, and the server would revoke the session.
      const tabs = [alice.page, ...others];
      await Promise.all(tabs.map((page) => page.reload()));
      for (const page of tabs) {
        await page.locator('[data-testid=connection][data-state=connected], form.auth-form').first().waitFor({ timeout: 10_000 });
        expect(new URL(page.url()).pathname).toBe('/');
        await connected(page);
      }
      // And the session goes on with the cookie the last refresh left.
      await others[0]!.reload();
      await connected(others[0]!);
    } finally {
      for (const page of others) await page.close();
    }
  });

  it('shows "offline" when the browser says so, and the comments missed meanwhile once it is back', async () => {
    // setOffline reaches pages, not the SharedWorker that holds alice's connection: this browser of
    // hers has none, so its one tab holds the connection, as it leads (a real offline is browser-wide).
    const away = await withoutSharedWorker(await launch('alice'));
    people.push(away); // closed in afterAll
    await signIn(away);
    const { page } = away;
    const id = await postId('Hello, Tandem!');
    await page.goto(url(`/posts/${id}`));
    await page.locator('#post-' + id).waitFor();
    await connected(page);
    expect(await connection(page).getAttribute('data-share')).toBe('leader');
    await mark(page);
    await away.context.setOffline(true);
    try {
      await page.locator('[data-testid=connection][data-state=offline]').waitFor({ timeout: 5_000 });
      expect(await connection(page).locator('.conn-label').textContent()).toBe('Offline');
      await shot(page, '08-offline');
      const carol = await apiLogin('carol');
      const missed = `While alice was offline ${Date.now()}`;
      expect((await site!.request(`/api/posts/${id}/comments`, { method: 'POST', token: carol, json: { body: missed } })).status).toBe(201);
      await sleep(300);
      expect(await commentCount(page, missed)).toBe(0);
      await away.context.setOffline(false);
      await connected(page);
      await page.locator('[data-testid=comment-body]', { hasText: missed }).waitFor({ timeout: 5_000 });
      await sleep(200);
      expect(await commentCount(page, missed)).toBe(1);
      expect(await stillMarked(page)).toBe(true);
    } finally {
      await away.context.setOffline(false);
    }
  });

  it(`${RESTART}: both show "reconnecting", then recover; comments made meanwhile appear exactly once`, async () => {
    const id = await postId('What should be WebSocket');
    await Promise.all([alice.page.goto(url(`/posts/${id}`)), bob.page.goto(url(`/posts/${id}`))]);
    const pages = [alice.page, bob.page];
    for (const page of pages) {
      await page.locator('#post-' + id).waitFor();
      await connected(page);
      await mark(page);
    }
    const carol = await apiLogin('carol');
    const missed: string[] = [];
    // The embedded server once; on the cluster n1, then n2 (by then every page is on n2).
    for (const outage of site!.restart()) {
      const shown = await Promise.all(pages.map((page) => recordConnection(page)));
      await outage.down();
      if (outage.everyPage) {
        for (const [i, record] of shown.entries()) await eventually(async () => (await record()).includes('reconnecting:Reconnecting'), `page ${i} to show "Reconnecting"`, 5_000);
        // On the cluster the other node may have taken the page back already.
        if ((await connection(alice.page).getAttribute('data-state')) === 'reconnecting') await shot(alice.page, '09-reconnecting');
      }
      await outage.answering();
      const meanwhile = [`Missed one (${outage.server} down) ${Date.now()}`, `Missed two (${outage.server} down) ${Date.now()}`];
      for (const body of meanwhile) {
        const res = await site!.request(`/api/posts/${id}/comments`, { method: 'POST', token: carol, json: { body } });
        expect(res.status).toBe(201);
      }
      missed.push(...meanwhile);
      // On the cluster, before the node is back: the pages recover on the other node, through nginx.
      for (const page of pages) {
        await connected(page, 20_000);
        for (const text of meanwhile) await page.locator('[data-testid=comment-body]', { hasText: text }).waitFor({ timeout: 10_000 });
      }
      await outage.back();
    }
    const after = `After the restart ${Date.now()}`;
    expect((await site!.request(`/api/posts/${id}/comments`, { method: 'POST', token: carol, json: { body: after } })).status).toBe(201);
    for (const page of pages) {
      await page.locator('[data-testid=comment-body]', { hasText: after }).waitFor({ timeout: 5_000 });
      await sleep(200); // a duplicate would arrive right behind
      for (const text of [...missed, after]) expect(await commentCount(page, text), text).toBe(1);
      expect(await stillMarked(page)).toBe(true);
    }
    await shot(bob.page, '10-recovered-after-restart');
  }, 90_000);

  it('B closes their page: A sees B go offline after the grace period', async () => {
    await alice.page.goto(url('/messages'));
    const bobOnline = alice.page.locator('.conversation [data-user=bob][data-presence=online]');
    await bobOnline.first().waitFor({ timeout: 10_000 });
    // Each presence dot says whose it is, on screen too.
    expect(await bobOnline.first().locator('.name').isVisible()).toBe(true);
    const closedAt = Date.now();
    await bob.page.close();
    await alice.page.locator('.conversation [data-user=bob][data-presence=offline]').first().waitFor({ timeout: PRESENCE_GRACE_MS + 5_000 });
    const elapsed = Date.now() - closedAt;
    expect(elapsed, `offline after ${elapsed} ms`).toBeGreaterThanOrEqual(PRESENCE_GRACE_MS * 0.9);
    await shot(alice.page, '11-messages-bob-offline');
  });

  it('on a phone, the icon-only links of the top bar keep their names', async () => {
    const { page } = alice;
    await page.setViewportSize({ width: 375, height: 740 });
    try {
      await page.goto(url('/messages'));
      await page.locator('h1', { hasText: 'Messages' }).waitFor();
      for (const name of ['Feed', 'Messages']) expect(await page.getByRole('link', { name, exact: true }).isVisible(), name).toBe(true);
      await shot(page, '12-phone-messages');
    } finally {
      await page.setViewportSize({ width: 1024, height: 768 });
    }
  });

  it('signs out, signs up and edits a profile', async () => {
    const page = await bob.context.newPage();
    await page.goto(url('/profile'));
    // The refresh cookie restores bob's session in a new tab.
    await page.locator('#profile-display').waitFor();
    expect(await page.inputValue('#profile-display')).toBe('Bob Builder');
    await page.click('button.sign-out');
    await page.waitForURL(url('/login'));
    // Signing out is not "your session has ended" (the server closes the session's sockets with 4009 meanwhile).
    await sleep(300);
    expect(await page.locator('.notice').count()).toBe(0);
    await page.goto(url('/'));
    await page.waitForURL(/\/login/);
    // A next= that only looks like a path (the browser reads "/<tab>/example.com" as //example.com): ignored.
    await page.goto(url('/login?next=/%09/example.com'));

    await page.click('a[href^="/signup"]');
    const username = `dora${Date.now() % 100_000}`;
    await page.fill('#signup-username', username);
    await page.fill('#signup-display', 'Dora');
    await page.fill('#signup-password', 'explorer-1234');
    await page.click('form.auth-form button[type=submit]');
    await page.locator('h1', { hasText: 'Feed' }).waitFor();
    await page.waitForURL(url('/'));
    await connected(page);

    await page.click('nav a[href="/profile"]');
    await page.fill('#profile-display', 'Dora the Explorer');
    await page.fill('#profile-bio', '<i>maps</i> & backpacks');
    await page.click('form:has(#profile-display) button[type=submit]');
    await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();
    expect(await page.locator('nav a[href="/profile"] .label').textContent()).toBe('Dora the Explorer');
    const me = (await (await site!.request(`/api/users/${username}`)).json()) as { displayName: string; bio: string };
    expect(me).toMatchObject({ displayName: 'Dora the Explorer', bio: '<i>maps</i> & backpacks' });
    await shot(page, '13-profile');

    // A long name is cut short in the top bar (all of it in the tooltip); the bar stays one row.
    const long = 'Dorothea Maximiliana von Explorer-Backpackington';
    await page.fill('#profile-display', long);
    await page.click('form:has(#profile-display) button[type=submit]');
    await eventually(async () => (await page.locator('nav a[href="/profile"]').getAttribute('title')) === long, 'the new name in the bar');
    const label = page.locator('nav a[href="/profile"] .label');
    expect(await label.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    const box = async (selector: string) => (await page.locator(selector).boundingBox())!;
    const [brand, nav, signOut] = [await box('.brand'), await box('.nav'), await box('button.sign-out')];
    expect(Math.abs(brand.y + brand.height / 2 - (nav.y + nav.height / 2))).toBeLessThan(4);
    expect(signOut.height).toBeLessThan(45);
    await shot(page, '14-profile-long-name');
  });

  it('a network that kills WebSockets right after they open: the page falls back to SSE and stays live, app code unchanged', async () => {
    // routeWebSocket reaches pages, not a SharedWorker: in this browser the page itself leads and holds the connection.
    const carol = await withoutSharedWorker(await launch('carol'));
    people.push(carol); // closed in afterAll
    // Every WebSocket to /realtime opens, then dies 30 ms later without reaching the server:
    // the proxy that accepts the upgrade and then kills it.
    let killed = 0;
    await carol.context.routeWebSocket(/\/realtime$/, (ws) => {
      killed += 1;
      setTimeout(() => void ws.close({ code: 1006 }).catch(() => {}), 30);
    });
    await signIn(carol);
    expect(killed).toBeGreaterThanOrEqual(2);
    expect(await connection(carol.page).getAttribute('data-transport')).toBe('sse');
    await expect(connection(carol.page).textContent()).resolves.toContain('SSE');
    // SSE is kept for the origin only once a WebSocket probe (1-3 s after the fallback) fails too.
    const remembered = () => carol.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tandem.transport:')).length);
    await eventually(async () => (await remembered()) === 1, 'the SSE choice remembered after a failed probe', 8_000);

    const id = await postId('Hello, Tandem!');
    await carol.page.goto(url(`/posts/${id}`));
    await carol.page.locator('#post-' + id).waitFor();
    await connected(carol.page);
    const killedBefore = killed;
    await mark(carol.page);
    const text = `Over SSE ${Date.now()}`;
    await alice.page.goto(url(`/posts/${id}`));
    await alice.page.locator('#post-' + id).waitFor();
    await alice.page.fill('#new-comment', text);
    const started = Date.now();
    await alice.page.click('form:has(#new-comment) button[type=submit]');
    await carol.page.locator('[data-testid=comment-body]', { hasText: text }).waitFor({ timeout: 5_000 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await commentCount(carol.page, text)).toBe(1);
    expect(await stillMarked(carol.page)).toBe(true);
    // The remembered choice: the new page went straight to SSE, without trying WebSocket again.
    expect(killed).toBe(killedBefore);
    await shot(carol.page, '15-sse-fallback');
  });

  it('an edit to a post older than the pages read stays off the feed; older pages join in order', async () => {
    const carol = await apiLogin('carol');
    const old = await postId('What should be WebSocket');
    for (let i = 0; i < 21; i += 1) {
      expect((await site!.request('/api/posts', { method: 'POST', token: carol, json: { body: `Filler ${i} ${Date.now()}` } })).status).toBe(201);
    }
    const { page } = alice;
    // The feed's first page is `max-age=0, stale-while-revalidate=30`: within 30 s of alice's last
    // visit the browser would show that page (with the old post on it) and catch up over the channel.
    // This test is about a post that is not on the page, so it starts from an empty cache.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.clearBrowserCache');
    await cdp.detach();
    await page.goto(url('/'));
    await page.locator('.post-list > .post').nth(19).waitFor();
    await connected(page);
    expect(await page.locator(`#post-${old}`).count()).toBe(0);
    expect((await site!.request(`/api/posts/${old}`, { method: 'PATCH', token: carol, json: { body: 'What should be WebSocket? (edited)' } })).status).toBe(200);
    await sleep(400);
    expect(await page.locator(`#post-${old}`).count()).toBe(0);
    expect(await page.locator('[data-testid=announcer]').textContent()).not.toContain('New post');
    await page.click('button:has-text("Load older posts")');
    await page.locator(`#post-${old}`, { hasText: '(edited)' }).waitFor();
    const ids = await page.locator('.post-list > .post').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-post-id'))));
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => b - a));
  });

  it('saw no uncaught error, CSP violation or dialog on any page', () => {
    for (const person of people) expect(person.problems, person.username).toEqual([]);
  });
});

async function shotOfSignIn(page: Page): Promise<void> {
  await page.goto(url('/login'));
  await page.locator('#signin-username').waitFor();
  await shot(page, '01-sign-in');
}
