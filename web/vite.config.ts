import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The social app's web UI. `npm run build:web` writes dist/web (git-ignored), which the Fastify
 * app serves: index.html for the client routes, hashed files under /assets/ as immutable.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  // The SharedWorker (src/realtime-worker.ts) as an ES module, as api.ts starts it ({ type: 'module' }).
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // Everything the page loads comes from /assets/: nothing inlined as data: URLs or inline scripts (the CSP allows 'self' only).
    assetsInlineLimit: 0,
    sourcemap: true,
    reportCompressedSize: false,
  },
});
