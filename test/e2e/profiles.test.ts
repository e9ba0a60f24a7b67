import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD } from '../../src/apps/social/seed';
import { eventually } from '../support/wait';
import { connected, launch, type Person } from './browser';
import { endSession, HAVE_CHROMIUM, IN_CI, onSite, shotsAt, startSiteWith, tempDir } from './session';
import { type Site, siteKind } from './site';

/**
 * Identity in two browsers (issue 11): alice renames herself and uploads a picture on /profile,
 * and bob's open feed shows the new name and picture at once (profile.updated on `people`); bob
 * opens /u/alice (her picture, name, bio, join date and posts) and messages her from there; an
 * unknown name is a "No such person" screen; alice changes her password in one browser and her
 * other browser is signed out at once (its socket closed with 4009).
 */

const SITE = HAVE_CHROMIUM || IN_CI ? await siteKind() : 'embedded';

let site: Site | undefined;
let people: Person[] = [];
let dataDir: string | undefined;
let aliceId = 0;
const { signIn: signInPage } = onSite(() => site);
const signIn = (person: Person, username = person.username, password?: string) => signInPage(person.page, username, password);

/** Screenshots of the page at desktop (1280) and phone (390) widths, once every picture on screen has loaded (a broken one has naturalWidth 0). */
const shots = (page: Page, name: string) => shotsAt(page, `identity-${name}`, { prepare: () => page.waitForFunction(() => [...document.querySelectorAll('img')].every((img) => img.complete)) });

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)(`profiles, pictures and passwords in chromium (${SITE})`, () => {
  beforeAll(async () => {
    dataDir = tempDir('tandem-e2e-profiles-');
    ({ site, people } = await startSiteWith(SITE, { dataDir }, [launch('alice'), launch('bob'), launch('alice')]));
    await Promise.all(people.slice(0, 2).map((p) => signIn(p)));
    aliceId = ((await (await site.request('/api/users/alice')).json()) as { id: number }).id;
  }, 120_000);

  afterAll(() => endSession(people, site, [dataDir]), 30_000);

  it("alice renames herself and uploads a picture: bob's open feed shows both at once", async () => {
    const [alice, bob] = people as [Person, Person];
    const herName = bob.page.locator(`.post .author [data-user-id="${aliceId}"] .display-name`).first();
    expect(await herName.textContent()).toBe('Alice Liddell');
    expect(await bob.page.locator('.post .author .handle').first().textContent()).toMatch(/@\w+/);
    await alice.page.click('a[data-nav="/profile"]');
    await alice.page.locator('h1', { hasText: 'Your profile' }).waitFor();

    await alice.page.fill('#profile-display', 'Alice in Wonderland');
    await alice.page.fill('#profile-bio', 'Curiouser and curiouser. Ask @bob, or see https://example.org/rabbit');
    const renamed = Date.now();
    await alice.page.click('form[aria-labelledby=names-title] button[type=submit]');
    await eventually(async () => (await herName.textContent()) === 'Alice in Wonderland', "alice's new name on bob's feed");
    const renameMs = Date.now() - renamed;

    // A phone-photo-sized upload (over nginx's 1 MB default) goes through the site as the browser sends it.
    const photo = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: 'grey', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).jpeg({ quality: 92 }).toBuffer();
    expect(photo.length).toBeGreaterThan(1024 * 1024);
    await alice.page.setInputFiles('#profile-avatar', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: photo });
    await alice.page.click('.avatar-form button[type=submit]');
    await alice.page.locator('.avatar-form [role=status]', { hasText: 'Picture saved.' }).waitFor();

    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 232, g: 89, b: 12 } } })
      .composite([{ input: Buffer.from('<svg width="640" height="480"><circle cx="320" cy="240" r="180" fill="#fff"/></svg>'), top: 0, left: 0 }])
      .png().toBuffer();
    await alice.page.setInputFiles('#profile-avatar', { name: 'me.png', mimeType: 'image/png', buffer: png });
    await alice.page.locator('.avatar-form [role=status]', { hasText: 'Preview' }).waitFor();
    await alice.page.click('.avatar-form button[type=submit]');
    await alice.page.locator('.avatar-form [role=status]', { hasText: 'Picture saved.' }).waitFor();
    const finalUrl = ((await (await site!.request('/api/users/alice')).json()) as { avatarUrl: string }).avatarUrl;
    const herPicture = bob.page.locator(`.post .author img[data-user-id="${aliceId}"]`).first();
    expect(finalUrl).toMatch(/^\/api\/avatars\/[0-9a-f]{32}\.webp$/);
    await eventually(async () => (await herPicture.getAttribute('src')) === finalUrl, "alice's picture on bob's feed");
    await eventually(() => herPicture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 256), 'the picture loaded');
    await shots(bob.page, 'feed-live');
    // Her own header follows too.
    expect(await alice.page.locator('a[data-nav="/profile"] .label').textContent()).toBe('Alice in Wonderland');
    await shots(alice.page, 'profile-edit');

    // A hostile file is refused next to the field, and nothing changes.
    await alice.page.setInputFiles('#profile-avatar', { name: 'evil.png', mimeType: 'image/png', buffer: Buffer.from('<svg onload=alert(1)>') });
    await alice.page.click('.avatar-form button[type=submit]');
    await alice.page.locator('#profile-avatar-error', { hasText: 'could not be read as a picture' }).waitFor();
    expect(await herPicture.getAttribute('src')).toMatch(/\.webp$/);
    console.info(`identity e2e: a rename reached the other browser in ${renameMs} ms (upper bound, polled)`);
  });

  it('bob opens /u/alice: her picture, name, bio, join date and posts; Message opens their conversation', async () => {
    const [, bob] = people as [Person, Person];
    await bob.page.locator(`.post .author a[data-user-id="${aliceId}"]`).first().click();
    await bob.page.waitForURL(/\/u\/alice$/);
    const head = bob.page.locator('.profile-head');
    await head.locator('h1', { hasText: 'Alice in Wonderland' }).waitFor();
    expect(await head.locator('.handle').textContent()).toBe('@alice');
    expect(await head.locator('.bio').textContent()).toBe('Curiouser and curiouser. Ask @bob, or see https://example.org/rabbit');
    // A bio's links and @names are links, as in posts (never HTML).
    expect(await head.locator('.bio a[href="https://example.org/rabbit"]').count()).toBe(1);
    expect(await head.locator('.bio a[href="/u/bob"]').count()).toBe(1);
    expect(await head.locator('.joined').textContent()).toMatch(/^Joined \w+ \d{4}$/);
    expect(await head.locator('img.avatar-large').getAttribute('src')).toMatch(/\.webp$/);
    await bob.page.locator('.post [data-testid=post-body]', { hasText: 'Hello, Tandem!' }).waitFor();
    expect(await bob.page.locator('.post').count()).toBe(1);
    expect(await bob.page.title()).toBe('Alice in Wonderland (@alice) · Tandem');
    await shots(bob.page, 'user-page');

    await head.locator('button', { hasText: 'Message' }).click();
    await bob.page.waitForURL(/\/messages\/\d+$/);
    await bob.page.locator('[data-testid=message-body]', { hasText: 'coffee later' }).waitFor();

    await bob.page.goto(`${site!.url}/u/nobody_here`);
    await bob.page.locator('h1', { hasText: 'No such person' }).waitFor();
    await shots(bob.page, 'no-such-person');
    expect(bob.problems).toEqual([]);
  });

  it('alice changes her password in one browser: her other browser is signed out at once', async () => {
    const [alice, , laptop] = people as [Person, Person, Person];
    await signIn(laptop, 'alice');
    await alice.page.goto(`${site!.url}/profile`);
    await alice.page.fill('#password-current', 'not the password');
    await alice.page.fill('#password-new', 'a new tandem secret');
    await alice.page.fill('#password-confirm', 'a new tandem secret');
    await alice.page.click('form[aria-labelledby=password-title] button[type=submit]');
    await alice.page.locator('#password-current-error', { hasText: 'not your current password' }).waitFor();
    expect(await laptop.page.locator('h1', { hasText: 'Feed' }).isVisible()).toBe(true);

    await alice.page.fill('#password-current', DEMO_PASSWORD);
    const changed = Date.now();
    await alice.page.click('form[aria-labelledby=password-title] button[type=submit]');
    await alice.page.locator('form[aria-labelledby=password-title] [role=status]', { hasText: 'Password changed' }).waitFor();
    await laptop.page.waitForURL(/\/login/, { timeout: 5_000 });
    console.info(`identity e2e: the other browser was signed out ${Date.now() - changed} ms after the change`);
    await laptop.page.locator('text=Your session has ended').waitFor();
    // This browser stays signed in and connected; the new password works, the old one not.
    await connected(alice.page);
    await alice.page.reload();
    await alice.page.locator('h1', { hasText: 'Your profile' }).waitFor();
    expect((await site!.request('/api/auth/login', { method: 'POST', json: { username: 'alice', password: DEMO_PASSWORD } })).status).toBe(401);
    await signIn(laptop, 'alice', 'a new tandem secret');
    expect(alice.problems).toEqual([]);
  });
});
