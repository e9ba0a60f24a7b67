import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_PASSWORD } from '../../src/apps/social/seed';
import { CHROMIUM, close, connected, type Person, SHOTS } from './browser';
import { type Site, type SiteKind, startSite } from './site';
import { builtWebUi } from './web-build';

/** What the browser suites share around the site and browsers: starting them, signing in, asking the API, screenshots. */

export const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
export const IN_CI = process.env.CI === 'true';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A fresh folder under the system's temp folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts the site on the shared web build (`builtWebUi()`) while the people's browsers launch. If any
 * of it fails, closes what did start and throws the first failure.
 */
export async function startSiteWith(kind: SiteKind, options: { dataDir: string; env?: Record<string, string> }, launches: Array<Promise<Person>> = []): Promise<{ site: Site; people: Person[] }> {
  const webRoot = await builtWebUi();
  const [started, ...launched] = await Promise.allSettled([startSite(kind, { webRoot, dataDir: options.dataDir, env: options.env ?? {} }), ...launches]);
  const people = launched.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = [started, ...launched].find((result) => result.status === 'rejected');
  if (failed !== undefined || started.status === 'rejected') {
    for (const person of people) await close(person);
    if (started.status === 'fulfilled') await started.value.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  return { site: started.value, people };
}

/** Closes the people's browsers and the site, and removes the folders. */
export async function endSession(people: Person[], site: Site | undefined, dirs: Array<string | undefined> = []): Promise<void> {
  for (const person of people) await close(person);
  await site?.close();
  for (const dir of dirs) if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * What a suite does on its site, bound to the site it will have started (`site()` is read at each
 * call, never before the suite's beforeAll).
 */
export function onSite(site: () => Site | undefined) {
  const current = () => {
    const it = site();
    if (it === undefined) throw new Error('the site is not started');
    return it;
  };
  return {
    url: (pathname: string) => current().url + pathname,

    /** Signs in on the sign-in page, as the demo users (their password unless told), then waits for the feed, connected. */
    async signIn(page: Page, username: string, password = DEMO_PASSWORD): Promise<void> {
      await page.goto(`${current().url}/login`);
      await page.fill('#signin-username', username);
      await page.fill('#signin-password', password);
      await page.click('form.auth-form button[type=submit]');
      await page.locator('h1', { hasText: 'Feed' }).waitFor();
      await connected(page);
    },

    /** An access token of a demo user, from the API. */
    async token(username: string): Promise<string> {
      const res = await current().request('/api/auth/login', { method: 'POST', json: { username, password: DEMO_PASSWORD } });
      return ((await res.json()) as { accessToken: string }).accessToken;
    },

    /** The id of a post on the first page of the feed, by the start of its body. */
    async postIdOf(startsWith: string): Promise<number> {
      const { items } = (await (await current().request('/api/posts')).json()) as { items: Array<{ id: number; body: string }> };
      const post = items.find((p) => p.body.startsWith(startsWith));
      if (post === undefined) throw new Error(`no post starting with ${startsWith}`);
      return post.id;
    },
  };
}

/**
 * Screenshots of the page at desktop (1280) and phone (390) widths, as `${name}-desktop.png` and
 * `${name}-phone.png` (or at one of them), the viewport put back after. `prepare` runs at each
 * width before its screenshot.
 */
export async function shotsAt(page: Page, name: string, options: { widths?: Array<'desktop' | 'phone'>; fullPage?: boolean; prepare?: () => Promise<unknown> } = {}): Promise<void> {
  const { widths = ['desktop', 'phone'], fullPage = true, prepare } = options;
  fs.mkdirSync(SHOTS, { recursive: true });
  const before = page.viewportSize();
  try {
    for (const kind of widths) {
      await page.setViewportSize(kind === 'desktop' ? DESKTOP : PHONE);
      await prepare?.();
      await page.screenshot({ path: path.join(SHOTS, `${name}-${kind}.png`), fullPage });
    }
  } finally {
    if (before !== null) await page.setViewportSize(before);
  }
}
