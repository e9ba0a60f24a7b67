import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/apps/social/seed';
import { CHROMIUM, close, connected, launch, type Person, SHOTS } from './browser';
import { type Site, siteKind, startSite } from './site';
import { builtWebUi } from './web-build';

/**
 * Search in two browsers: alice posts, bob finds her post by a word (from the top bar, then as he
 * types on the search page), then finds alice herself in the new-conversation box's autocomplete,
 * picks her with the keyboard and opens a conversation with her.
 */

const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const IN_CI = process.env.CI === 'true';
const SITE = HAVE_CHROMIUM || IN_CI ? await siteKind() : 'embedded';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let site: Site | undefined;
const people: Person[] = [];
let dataDir: string | undefined;

async function signIn(person: Person): Promise<void> {
  const { page } = person;
  await page.goto(`${site!.url}/login`);
  await page.fill('#signin-username', person.username);
  await page.fill('#signin-password', DEMO_PASSWORD);
  await page.click('form.auth-form button[type=submit]');
  await page.locator('h1', { hasText: 'Feed' }).waitFor();
  await connected(page);
}

/** A screenshot at desktop and at phone width (the viewport is put back to desktop after). */
async function shots(page: Page, name: string, prepare?: () => Promise<void>): Promise<void> {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(viewport);
    await prepare?.();
    await page.screenshot({ path: path.join(SHOTS, `search-${name}-${size}.png`), fullPage: false });
  }
  await page.setViewportSize(DESKTOP);
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)(`search in the web UI (${SITE})`, () => {
  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-search-'));
    const webRoot = await builtWebUi();
    const [started, ...launched] = await Promise.allSettled([startSite(SITE, { webRoot, dataDir, env: {} }), launch('alice'), launch('bob')]);
    for (const result of launched) if (result.status === 'fulfilled') people.push(result.value);
    if (started.status === 'fulfilled') site = started.value;
    for (const result of [started, ...launched]) if (result.status === 'rejected') throw result.reason;
    for (const person of people) await person.page.setViewportSize(DESKTOP);
    await Promise.all(people.map(signIn));
  }, 120_000);

  afterAll(async () => {
    for (const person of people) await close(person);
    await site?.close();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('alice posts; bob finds the post by a word from the top bar, then as he types', async () => {
    const [alice, bob] = people as [Person, Person];
    await alice.page.fill('#new-post', 'Alice’s kumquat marmalade: my grandmother’s recipe, finally written down.');
    await alice.page.locator('form.composer button[type=submit]', { hasText: 'Post' }).click();
    await alice.page.locator('[data-testid=post-body]', { hasText: 'kumquat marmalade' }).first().waitFor();

    const box = bob.page.locator('.topbar-search-input');
    await box.fill('kumquat');
    await box.press('Enter');
    await bob.page.waitForURL(/\/search\?q=kumquat$/);
    const result = bob.page.locator('.search-post', { hasText: 'marmalade' });
    await result.waitFor();
    expect(await result.locator('mark').first().textContent()).toBe('kumquat');
    expect(await result.locator('.user-link').getAttribute('href')).toBe('/u/alice');
    // As-you-type on the page: the address bar follows (replaceState), stale answers never land.
    const input = bob.page.locator('#search-q');
    await input.fill('');
    await input.pressSequentially('marma', { delay: 30 });
    await bob.page.waitForURL(/\/search\?q=marma$/);
    await expect.poll(() => result.locator('mark').first().textContent()).toBe('marma');
    await expect.poll(() => bob.page.locator('[data-testid=search-status]').textContent()).toMatch(/1 post/);
    // "ali": alice herself (People) and her post, whose "Alice’s" starts with it (Posts).
    await input.fill('ali');
    await bob.page.locator('.search-person[data-username=alice]').waitFor();
    await expect.poll(() => result.locator('mark').first().textContent()).toBe('Ali');
    expect(await bob.page.locator('.search-person[data-username=alice] a').getAttribute('href')).toBe('/u/alice');
    await shots(bob.page, 'page');

    // A slow answer to an older query never replaces a newer one: "kumquat" is held back 1.5 s,
    // "marmalade" typed meanwhile is answered at once; the page ends on "marmalade".
    let held = 0;
    await bob.page.route(/\/api\/search\/posts\?q=kumquat/, async (route) => {
      held += 1;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue().catch(() => {}); // aborted by the page: nothing to continue
    });
    await input.fill('kumquat');
    await expect.poll(() => held).toBe(1);
    await input.fill('marmalade');
    await expect.poll(() => bob.page.locator('[data-testid=search-status]').textContent()).toContain('“marmalade”');
    await bob.page.waitForTimeout(1_800);
    expect(await bob.page.locator('[data-testid=search-status]').textContent()).toContain('“marmalade”');
    expect(await result.locator('mark').first().textContent()).toBe('marmalade');
    expect(new URL(bob.page.url()).search).toBe('?q=marmalade');
    await bob.page.unroute(/\/api\/search\/posts\?q=kumquat/);

    await result.locator('.search-post-open').click();
    await bob.page.waitForURL(/\/posts\/\d+$/);
  });

  it('bob finds alice in the new-conversation box, picks her with the keyboard and opens a conversation', async () => {
    const [, bob] = people as [Person, Person];
    const { page } = bob;
    await page.goto(`${site!.url}/messages`);
    const combo = page.locator('#new-conversation-members');
    await combo.waitFor();
    expect(await combo.getAttribute('role')).toBe('combobox');
    expect(await combo.getAttribute('aria-expanded')).toBe('false');
    const listId = (await combo.getAttribute('aria-controls'))!;
    await combo.pressSequentially('ali', { delay: 30 });
    const option = page.locator(`#${listId} [role=option][data-username=alice]`);
    await option.waitFor();
    expect(await combo.getAttribute('aria-expanded')).toBe('true');
    expect(await page.locator(`#${listId}`).getAttribute('role')).toBe('listbox');
    // Bob himself is never suggested; Escape closes, Down opens again.
    await combo.press('Escape');
    expect(await combo.getAttribute('aria-expanded')).toBe('false');
    await combo.press('ArrowDown');
    await option.waitFor();
    await combo.press('ArrowDown');
    expect(await combo.getAttribute('aria-activedescendant')).toBe(await option.getAttribute('id'));
    expect(await option.getAttribute('aria-selected')).toBe('true');
    expect(await option.textContent()).toContain('Alice Liddell');
    expect(await option.textContent()).toContain('@alice');
    await shots(page, 'autocomplete', async () => {
      if ((await combo.getAttribute('aria-expanded')) !== 'true') {
        await combo.press('ArrowDown');
        await option.waitFor();
        await combo.press('ArrowDown');
      }
      await combo.scrollIntoViewIfNeeded();
    });
    await combo.press('Enter');
    const chip = page.locator('.chip[data-username=alice]');
    await chip.waitFor();
    expect(await combo.inputValue()).toBe('');
    expect(await combo.getAttribute('aria-expanded')).toBe('false');
    await shots(page, 'picked');
    await combo.press('Enter'); // nothing active: the form's own Enter opens the conversation
    await page.waitForURL(/\/messages\/\d+$/);
    await page.locator('h1', { hasText: /alice/i }).waitFor();
  });
});
