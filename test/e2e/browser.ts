import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Helpers for driving the web UI in Debian's chromium (playwright-core, no bundled browsers). */

export const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = path.resolve('test-output', 'screenshots');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** One person in a browser of their own: own profile folder, so own cookies. */
export interface Person {
  username: string;
  context: BrowserContext;
  page: Page;
  userDataDir: string;
  /** Uncaught exceptions, CSP violations and dialogs seen on this person's pages. */
  problems: string[];
}

/** Launches headless chromium on a fresh profile folder (removed by `close`). */
export async function launch(username: string): Promise<Person> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1024, height: 768 } });
  } catch (error) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const person: Person = { username, context, page: context.pages()[0] ?? (await context.newPage()), userDataDir, problems: [] };
  context.on('page', (page) => watch(person, page));
  watch(person, person.page);
  return person;
}

/**
 * A browser without SharedWorker (Safari before 16, Chrome on Android for most of its history): its tabs elect a leader tab
 * to hold the shared realtime connection. Also what a test needs whose network faults must reach that
 * connection: Playwright's setOffline and routeWebSocket act on pages, never on a SharedWorker.
 */
export async function withoutSharedWorker(person: Person): Promise<Person> {
  await person.context.addInitScript(() => {
    delete (window as { SharedWorker?: unknown }).SharedWorker;
  });
  return person;
}

export async function close(person: Person): Promise<void> {
  await person.context.close().catch(() => {});
  fs.rmSync(person.userDataDir, { recursive: true, force: true });
}

function watch(person: Person, page: Page): void {
  page.on('pageerror', (error) => person.problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) person.problems.push(`csp: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    person.problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
}

export function connection(page: Page) {
  return page.locator('[data-testid=connection]');
}

export async function connected(page: Page, timeout = 10_000): Promise<void> {
  await page.locator('[data-testid=connection][data-state=connected]').waitFor({ timeout });
}

/**
 * Starts recording what the connection indicator shows on `page`, as "state:label" entries; the
 * returned function reads them. Unlike a waitFor, it cannot miss a state that lasts a few
 * milliseconds (a page whose node died reconnects to the other one after 0-500 ms of backoff).
 */
export async function recordConnection(page: Page): Promise<() => Promise<string[]>> {
  const key = `tandemShown${Math.random().toString(36).slice(2)}`;
  await page.evaluate((key) => {
    const el = document.querySelector<HTMLElement>('[data-testid=connection]')!;
    const shown: string[] = [];
    (window as unknown as Record<string, string[]>)[key] = shown;
    const record = () => {
      const entry = `${el.dataset.state}:${el.querySelector('.conn-label')?.textContent ?? ''}`;
      if (shown.at(-1) !== entry) shown.push(entry);
    };
    record();
    // Each render sets the state and the label in one task; the observer runs after each task.
    new MutationObserver(record).observe(el, { attributes: true, childList: true, subtree: true, characterData: true });
  }, key);
  return () => page.evaluate((key) => [...(window as unknown as Record<string, string[]>)[key]!], key);
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Marks the page, so a later check can tell it was not reloaded. */
export async function mark(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { tandemMark: boolean }).tandemMark = true));
}

export function stillMarked(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { tandemMark?: boolean }).tandemMark === true);
}

/** The unread count on the bell (0 when the badge is hidden). */
export async function bellCount(page: Page): Promise<number> {
  const badge = page.locator('[data-testid=bell-count]');
  if (!(await badge.isVisible())) return 0;
  return Number(await badge.textContent());
}

export function commentCount(page: Page, text: string): Promise<number> {
  return page.locator('[data-testid=comment-body]', { hasText: text }).count();
}
