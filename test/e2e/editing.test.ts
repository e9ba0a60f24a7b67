import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/apps/social/limits';
import { eventually } from '../support/wait';
import { launch, type Person, SHOTS } from './browser';
import { endSession, HAVE_CHROMIUM, onSite, startSiteWith, tempDir } from './session';
import type { Site } from './site';

/**
 * Editing and feed cards in Chromium, with two people: alice edits a post and bob sees it live with
 * "(edited)"; alice edits the same post in two browsers and the second save meets the conflict,
 * with the newer text; a comment meanwhile (counts only) is retried silently; comment counts move
 * live on the cards; a long post folds behind "Show more"; links are clickable, `javascript:` is not.
 */

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let dataDir: string | undefined;
let people: Person[] = [];
let site: Site | undefined;
const { url, signIn, token } = onSite(() => site);

async function shot(page: Page, what: string, width: 'desktop' | 'phone', locator?: string): Promise<void> {
  await page.setViewportSize(width === 'desktop' ? DESKTOP : PHONE);
  const file = path.join(SHOTS, `editing-${what}-${width}.png`);
  if (locator === undefined) await page.screenshot({ path: file, fullPage: true });
  else await page.locator(locator).screenshot({ path: file });
}

async function post(username: string, body: string): Promise<number> {
  const res = await site!.request('/api/posts', { method: 'POST', token: await token(username), json: { body } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: number }).id;
}

async function comment(username: string, postId: number, body: string): Promise<void> {
  expect((await site!.request(`/api/posts/${postId}/comments`, { method: 'POST', token: await token(username), json: { body } })).status).toBe(201);
}

async function currentBody(postId: number): Promise<string> {
  return ((await (await site!.request(`/api/posts/${postId}`)).json()) as { body: string }).body;
}

/** Which element has focus: its data-action, or its tag. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return el?.dataset.action ?? el?.tagName.toLowerCase() ?? 'none';
  });
}

describe.skipIf(!HAVE_CHROMIUM)('editing, feed cards and links, in a browser', () => {
  let alice: Person;
  let aliceAgain: Person;
  let bob: Person;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = tempDir('tandem-editing-');
    ({ site, people } = await startSiteWith('embedded', { dataDir }, [launch('alice'), launch('alice'), launch('bob')]));
    [alice, aliceAgain, bob] = people as [Person, Person, Person];
    await Promise.all([signIn(alice.page, 'alice'), signIn(aliceAgain.page, 'alice'), signIn(bob.page, 'bob')]);
  }, 120_000);

  afterAll(() => endSession(people, site, [dataDir]), 30_000);

  it('alice edits her post in place (Escape cancels, focus back on Edit); bob sees the new text live with "(edited)"', async () => {
    const id = await post('alice', 'A post to edit');
    const card = `#post-${id}`;
    await alice.page.locator(`${card} [data-testid=post-body]`, { hasText: 'A post to edit' }).waitFor();
    await bob.page.locator(`${card} [data-testid=post-body]`, { hasText: 'A post to edit' }).waitFor();
    expect(await bob.page.locator(`${card} button[data-action=edit]`).count()).toBe(0);

    const { page } = alice;
    await page.click(`${card} button[data-action=edit]`);
    const editor = page.locator(`#edit-post-${id}`);
    await editor.waitFor();
    expect(await editor.inputValue()).toBe('A post to edit');
    expect(await focused(page)).toBe('textarea');
    await editor.fill('Not this');
    await page.keyboard.press('Escape');
    await editor.waitFor({ state: 'detached' });
    expect(await focused(page)).toBe('edit');
    expect(await currentBody(id)).toBe('A post to edit');

    await page.click(`${card} button[data-action=edit]`);
    // Blank, or over the limit: said next to the box, nothing sent, nothing cut.
    await editor.fill('   ');
    await page.click(`${card} form.editor button[type=submit]`);
    await page.locator(`#edit-post-${id}-error`, { hasText: 'Write something' }).waitFor();
    await editor.fill('x'.repeat(LIMITS.post + 2));
    await page.locator(`#edit-post-${id}-error`, { hasText: 'Too long by 2 characters' }).waitFor();
    expect((await editor.inputValue()).length).toBe(LIMITS.post + 2);
    expect(await currentBody(id)).toBe('A post to edit');
    await editor.fill('A post, edited in place.\nWith a second line.');
    await page.locator(`#edit-post-${id}-error`).waitFor({ state: 'detached' });
    await shot(page, 'editor', 'desktop', card);
    await shot(page, 'editor', 'phone', card);
    await page.setViewportSize(DESKTOP);
    await page.click(`${card} form.editor button[type=submit]`);
    await editor.waitFor({ state: 'detached' });
    await eventually(async () => (await focused(page)) === 'edit', 'focus back on the Edit button');
    const bobCard = bob.page.locator(card);
    await bobCard.locator('[data-testid=post-body]', { hasText: 'A post, edited in place.' }).waitFor({ timeout: 5_000 });
    const mark = bobCard.locator('[data-testid=edited]');
    expect(await mark.textContent()).toBe('(edited)');
    expect(await mark.getAttribute('title')).toMatch(/^Edited /);
  });

  it('two browsers of alice: the second save meets the conflict with the newer text, keeps hers, and can save over it', async () => {
    const id = await post('alice', 'The original text');
    const card = `#post-${id}`;
    const first = alice.page;
    const second = aliceAgain.page;
    await second.goto(url(`/posts/${id}`));
    await second.locator(`${card} [data-testid=post-body]`, { hasText: 'The original text' }).waitFor();
    await first.locator(`${card} [data-testid=post-body]`, { hasText: 'The original text' }).waitFor();

    await first.click(`${card} button[data-action=edit]`);
    await second.click(`${card} button[data-action=edit]`);
    await first.locator(`#edit-post-${id}`).fill('Written in the first browser');
    await second.locator(`#edit-post-${id}`).fill('Written in the second browser');
    await second.click(`${card} form.editor button[type=submit]`);
    await second.locator(`#edit-post-${id}`).waitFor({ state: 'detached' });
    expect(await currentBody(id)).toBe('Written in the second browser');

    // The first browser's card was redrawn live under its open editor: the editor is still there, with her text.
    await first.locator(`${card} [data-testid=edited]`).waitFor();
    expect(await first.locator(`#edit-post-${id}`).inputValue()).toBe('Written in the first browser');
    await first.click(`${card} form.editor button[type=submit]`);
    const conflict = first.locator(`${card} .conflict`);
    await conflict.locator('.conflict-title', { hasText: 'This post was changed while you were editing.' }).waitFor();
    expect(await conflict.locator('[data-testid=newer-text]').textContent()).toBe('Written in the second browser');
    expect(await first.locator(`#edit-post-${id}`).inputValue()).toBe('Written in the first browser');
    expect(await currentBody(id)).toBe('Written in the second browser');
    await shot(first, 'conflict', 'desktop', card);
    await shot(first, 'conflict', 'phone', card);
    await first.setViewportSize(DESKTOP);

    await conflict.getByRole('button', { name: 'Save mine anyway' }).click();
    await first.locator(`#edit-post-${id}`).waitFor({ state: 'detached' });
    await eventually(async () => (await currentBody(id)) === 'Written in the first browser', 'the overwrite saved');
    await second.locator(`${card} [data-testid=post-body]`, { hasText: 'Written in the first browser' }).waitFor();
  });

  it('a comment while editing (only the counts changed) is retried silently; the card counts comments live', async () => {
    const id = await post('alice', 'Count my comments');
    const card = `#post-${id}`;
    const { page } = alice;
    await page.goto(url('/'));
    const link = page.locator(`${card} .comments-link`);
    await link.waitFor();
    expect((await link.textContent())?.startsWith('Comment')).toBe(true);
    await page.click(`${card} button[data-action=edit]`);
    await page.locator(`#edit-post-${id}`).fill('Count my comments (edited while bob commented)');
    await comment('bob', id, 'first!');
    await eventually(async () => (await link.getAttribute('data-comment-count')) === '1', 'the count on the card');
    expect(await link.locator('.count').textContent()).toBe('1 comment');
    await page.click(`${card} form.editor button[type=submit]`);
    await page.locator(`#edit-post-${id}`).waitFor({ state: 'detached' });
    expect(await page.locator(`${card} .conflict`).count()).toBe(0);
    expect(await currentBody(id)).toBe('Count my comments (edited while bob commented)');
    await comment('bob', id, 'second!');
    await bob.page.locator(`${card} .comments-link .count`, { hasText: '2 comments' }).waitFor();
  });

  it('bob edits his comment; alice sees it live with "(edited)"', async () => {
    const id = await post('alice', 'Comment on me');
    await comment('bob', id, 'A comment with a tpyo');
    await Promise.all([alice.page.goto(url(`/posts/${id}`)), bob.page.goto(url(`/posts/${id}`))]);
    const item = '.comment';
    await bob.page.locator(`${item} button[data-action=edit]`).click();
    const editor = bob.page.locator('form.editor textarea');
    expect(await editor.inputValue()).toBe('A comment with a tpyo');
    await editor.fill('A comment without a typo');
    await bob.page.keyboard.press('Control+Enter');
    await editor.waitFor({ state: 'detached' });
    await alice.page.locator('[data-testid=comment-body]', { hasText: 'A comment without a typo' }).waitFor();
    expect(await alice.page.locator(`${item} [data-testid=edited]`).count()).toBe(1);
    expect(await alice.page.locator(`${item} button[data-action=edit]`).count()).toBe(0);
  });

  it('a long post folds behind "Show more"; its links open, javascript: stays text, @bob links to his profile', async () => {
    const long = [
      'Read https://example.com/docs and ask @bob. Not a link: javascript:alert(1)',
      ...Array.from({ length: 30 }, (_, i) => `Line ${i + 1} of a long post that goes on.`),
      'THE END',
    ].join('\n');
    const id = await post('alice', long);
    const { page } = bob;
    await page.goto(url('/'));
    const card = page.locator(`#post-${id}`);
    const body = card.locator('[data-testid=post-body]');
    await body.waitFor();
    const more = card.getByRole('button', { name: 'Show more' });
    expect(await more.getAttribute('aria-expanded')).toBe('false');
    expect(await more.getAttribute('aria-controls')).toBe(await body.getAttribute('id'));
    expect(await body.textContent()).not.toContain('THE END');
    const link = body.locator('a.ugc-link');
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer nofollow ugc');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await body.locator('a[href^="javascript"]').count()).toBe(0);
    expect(await body.textContent()).toContain('javascript:alert(1)');
    expect(await body.locator('a.mention').getAttribute('href')).toBe('/u/bob');
    await shot(page, 'folded', 'desktop', `#post-${id}`);
    await shot(page, 'folded', 'phone', `#post-${id}`);
    await page.setViewportSize(DESKTOP);
    await more.click();
    const less = card.getByRole('button', { name: 'Show less' });
    expect(await less.getAttribute('aria-expanded')).toBe('true');
    expect(await body.textContent()).toContain('THE END');
    await shot(page, 'unfolded', 'desktop', `#post-${id}`);
    expect([...alice.problems, ...aliceAgain.problems, ...bob.problems]).toEqual([]);
  });
});
