import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where test/e2e/web-build.ts builds the web UI once for the run (empty until a browser suite asks). */
    webBuildDir: string;
  }
}

/** Once per run: an empty folder for the shared web build, removed when the run ends. */
export default function setup(project: TestProject): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-web-shared-'));
  project.provide('webBuildDir', dir);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
