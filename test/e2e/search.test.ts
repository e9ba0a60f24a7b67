import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, type Person } from './browser';
import { DESKTOP, endSession, HAVE_CHROMIUM, IN_CI, onSite, shotsAt, startSiteWith, tempDir } from './session';
import { type Site, siteKind } from './site';

/**
 * Search in two browsers: alice posts, bob finds her post by a word (from the top bar, then as he
 * types on the search page), then finds alice herself in the new-conversation box's autocomplete,
 * picks her with the keyboard and opens a conversation with her.
 */

const SITE = HAVE_CHROMIUM || IN_CI ? await siteKind() : 'embedded';

let site: Site | undefined;
let people: Person[] = [];
let dataDir: string | undefined;
const { signIn } = onSite(() => site);

/** A screenshot at desktop and at phone width, of the screen (not the full page). */
const shots = (page: Page, name: string, prepare?: () => Promise<void>) => shotsAt(page, `search-${name}`, { fullPage: false, prepare });

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)(`search in the web UI (${SITE})`, () => {
  beforeAll(async () => {
    dataDir = tempDir('tandem-e2e-search-');
    ({ site, people } = await startSiteWith(SITE, { dataDir }, [launch('alice'), launch('bob')]));
    for (const person of people) await person.page.setViewportSize(DESKTOP);
    await Promise.all(people.map((p) => signIn(p.page, p.username)));
  }, 120_000);

  afterAll(() => endSession(people, site, [dataDir]), 30_000);

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
