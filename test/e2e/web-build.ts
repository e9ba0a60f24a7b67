import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

/**
 * The production build of web/, made once per test run and shared by every browser suite: the
 * first suite to ask builds it (the others, in other workers, wait for it), into the folder the
 * run's global setup made (test/support/global-setup.ts removes it afterwards).
 */
export async function builtWebUi(): Promise<string> {
  const shared = inject('webBuildDir');
  if (typeof shared !== 'string') throw new Error('no webBuildDir: vitest.config.ts must run test/support/global-setup.ts');
  const out = path.join(shared, 'web');
  const done = path.join(shared, 'done');
  const failed = path.join(shared, 'failed');
  let mine = false;
  try {
    fs.mkdirSync(path.join(shared, 'lock'));
    mine = true;
  } catch {
    // Another worker builds it.
  }
  if (mine) {
    try {
      await build(out);
      fs.writeFileSync(done, '');
    } catch (error) {
      fs.writeFileSync(failed, String(error));
      throw error;
    }
    return out;
  }
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if (fs.existsSync(done)) return out;
    if (fs.existsSync(failed)) throw new Error(`the shared web build failed: ${fs.readFileSync(failed, 'utf8')}`);
  }
  throw new Error('timed out waiting for the shared web build');
}

async function build(outDir: string): Promise<void> {
  const vite = path.resolve('node_modules', 'vite', 'bin', 'vite.js');
  await promisify(execFile)(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], { timeout: 120_000 });
}
