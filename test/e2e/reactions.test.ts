import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bellCount, connected, launch, type Person, SHOTS } from './browser';
import { endSession, HAVE_CHROMIUM, IN_CI, onSite, startSiteWith, tempDir } from './session';
import { type Site, siteKind } from './site';

/**
 * Reactions in two browsers: bob likes alice's post and she sees the count change live on her
 * feed, and is told; a click is shown at once (aria-pressed) and kept after a reload.
 */

const SITE = HAVE_CHROMIUM || IN_CI ? await siteKind() : 'embedded';

let site: Site | undefined;
let people: Person[] = [];
let dataDir: string | undefined;
const { signIn, token, postIdOf } = onSite(() => site);

const button = (page: Page, scope: string, reaction: string) => page.locator(`${scope} .reactions button[data-reaction=${reaction}]`);

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)(`reactions in the web UI (${SITE})`, () => {
  beforeAll(async () => {
    dataDir = tempDir('tandem-e2e-reactions-');
    ({ site, people } = await startSiteWith(SITE, { dataDir }, [launch('alice'), launch('bob')]));
    await Promise.all(people.map((p) => signIn(p.page, p.username)));
  }, 120_000);

  afterAll(() => endSession(people, site, [dataDir]), 30_000);

  it('bob likes alice’s post: his button is pressed at once, alice sees the count live and is notified', async () => {
    const [alice, bob] = people as [Person, Person];
    const id = await postIdOf('Hello, Tandem!');
    const card = `#post-${id}`;
    await expect.poll(() => button(alice.page, card, 'like').getAttribute('aria-pressed')).toBe('false');
    const like = button(bob.page, card, 'like');
    await expect.poll(() => like.getAttribute('aria-pressed')).toBe('false');
    const bellBefore = await bellCount(alice.page);
    const started = Date.now();
    await like.click();
    expect(await like.getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => like.getAttribute('aria-label')).toBe('Like: 1');
    // Alice did not reload: the coalesced frame on `feed` updated her card.
    await expect.poll(() => button(alice.page, card, 'like').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Like: 1');
    const seenAfter = Date.now() - started;
    expect(await button(alice.page, card, 'like').getAttribute('aria-pressed')).toBe('false');
    expect(seenAfter).toBeLessThan(5_000);
    // She is told: the bell counts one more, live.
    await expect.poll(() => bellCount(alice.page), { timeout: 5_000 }).toBe(bellBefore + 1);
    const accessToken = await token('alice');
    await expect.poll(async () => {
      const page = (await (await site!.request('/api/notifications', { token: accessToken })).json()) as { items: Array<{ kind: string; postId: number | null; actor: { username: string } }> };
      return page.items.some((n) => n.kind === 'reaction' && n.postId === id && n.actor.username === 'bob');
    }).toBe(true);

    // Alice reacts too, with love; bob sees it live; his own like stays pressed.
    await button(alice.page, card, 'love').click();
    await expect.poll(() => button(bob.page, card, 'love').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Love: 1');
    expect(await like.getAttribute('aria-pressed')).toBe('true');

    // After a reload bob's reaction is still his (GET /api/me/reactions, private, never cached), and the
    // counts are current: the feed page may come from the browser's cache (a public list may be served
    // stale while it revalidates), and the channel, followed from that page's position, replays the frames since.
    await bob.page.reload();
    await connected(bob.page);
    await expect.poll(() => button(bob.page, card, 'like').getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => button(bob.page, card, 'like').getAttribute('aria-label')).toBe('Like: 1');

    // Taking it back: alice's count goes live to none.
    await button(bob.page, card, 'like').click();
    await expect.poll(() => button(alice.page, card, 'like').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Like');
    await button(bob.page, card, 'like').click();
    await expect.poll(() => button(alice.page, card, 'like').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Like: 1');
    // Her notifications say who reacted to what.
    await alice.page.goto(`${site!.url}/notifications`);
    await expect.poll(() => alice.page.locator('li[data-kind=reaction]').first().textContent()).toContain('Bob Builder reacted to your post');
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  }, 60_000);

  it('reacts to comments on the post page, live for the other person; screenshots at desktop and phone width', async () => {
    const [alice, bob] = people as [Person, Person];
    const id = await postIdOf('Hello, Tandem!');
    await Promise.all([alice.page.goto(`${site!.url}/posts/${id}`), bob.page.goto(`${site!.url}/posts/${id}`)]);
    const comment = alice.page.locator('.comment', { hasText: 'Welcome, Alice!' }).first();
    const commentId = await comment.getAttribute('data-comment-id');
    const scope = `#comment-${commentId} > article`;
    await button(alice.page, scope, 'laugh').click();
    await expect.poll(() => button(bob.page, scope, 'laugh').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Laugh: 1');
    await button(bob.page, scope, 'laugh').click();
    await expect.poll(() => button(alice.page, scope, 'laugh').getAttribute('aria-label'), { timeout: 5_000 }).toBe('Laugh: 2');
    expect(await button(alice.page, scope, 'laugh').getAttribute('aria-pressed')).toBe('true');

    // A refused toggle rolls back: shown pressed at once, unpressed again with a sentence when the server says no.
    await bob.page.route('**/api/posts/*/reactions/wow', (route) => route.fulfill({
      status: 500, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, code: 'internal' }),
    }));
    const wow = button(bob.page, `#post-${id}`, 'wow');
    await wow.click();
    await expect.poll(() => bob.page.locator(`#post-${id} .reaction-error`).textContent()).toContain('Could not react');
    expect(await wow.getAttribute('aria-pressed')).toBe('false');
    expect(await wow.getAttribute('aria-label')).toBe('Wow');
    await bob.page.unroute('**/api/posts/*/reactions/wow');
    await wow.click();
    await expect.poll(() => wow.getAttribute('aria-label')).toBe('Wow: 1');
    expect(await bob.page.locator(`#post-${id} .reaction-error`).textContent()).toBe('');

    fs.mkdirSync(SHOTS, { recursive: true });
    for (const [width, height, name] of [[1280, 900, 'desktop'], [390, 844, 'phone']] as const) {
      await alice.page.setViewportSize({ width, height });
      // Her own reactions are read after the page draws (GET /api/me/reactions): shown pressed before the picture.
      await alice.page.locator(`#post-${id} .reactions button[data-reaction=love][aria-pressed=true]`).waitFor();
      await alice.page.locator(`${scope} .reactions button[data-reaction=laugh][aria-pressed=true]`).waitFor();
      await alice.page.screenshot({ path: path.join(SHOTS, `reactions-post-${name}.png`), fullPage: true });
      await alice.page.goto(`${site!.url}/`);
      await alice.page.locator(`#post-${id} .reactions button[data-reaction=love][aria-pressed=true]`).waitFor();
      await alice.page.locator(`#post-${id}`).screenshot({ path: path.join(SHOTS, `reactions-card-${name}.png`) });
      await alice.page.goto(`${site!.url}/posts/${id}`);
    }
    await alice.page.setViewportSize({ width: 1024, height: 768 });
    expect(alice.problems).toEqual([]);
    expect(bob.problems).toEqual([]);
  }, 60_000);
});
