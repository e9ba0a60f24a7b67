/**
 * The boundaries of the code (docs/architecture.md, "Layers"), checked in CI by `npm run check:boundaries`:
 * the library never imports an app; the client and the protocol stay free of the server and of
 * Node; apps, examples, the command line and the web UI use the library only through its public entries
 * (`tandem/server`, `tandem/client`); the hub knows no transport.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'library-imports-no-app',
      comment: 'src/server, src/client and src/protocol are the library: they never import an app, the command line, an example or the web UI.',
      severity: 'error',
      from: { path: '^src/(server|client|protocol)/' },
      to: { path: '^(src/apps|src/cli|examples|web)/' },
    },
    {
      name: 'client-is-generic-and-browser-safe',
      comment: 'The client SDK imports neither the server nor Node built-ins (it runs in browsers).',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'client-has-no-node-builtins',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'protocol-imports-neither-side',
      comment: 'The protocol is shared by server and client: it imports neither, nor Node built-ins.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/(server|client)/' },
    },
    {
      name: 'protocol-has-no-node-builtins',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'apps-use-public-entries',
      comment: "Apps, examples and the realtime bench's Tandem server import the library only through tandem/server and tandem/client (the package exports).",
      severity: 'error',
      from: { path: '^(src/apps|examples)/|^bench/realtime/tandem-server\\.ts$' },
      to: { path: '^src/(server|client|protocol)/', pathNot: '^src/(server|client)/index\\.ts$' },
    },
    {
      name: 'cli-uses-public-entries',
      comment: "The command line (tandem bench, its bench server, tandem advise) is built like an app: the library only through tandem/server and tandem/client.",
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/(server|client|protocol)/', pathNot: '^src/(server|client)/index\\.ts$' },
    },
    {
      name: 'web-ui-uses-public-entries',
      comment: "The social app's web UI uses tandem/client and its own app's types only.",
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: '^src/(client/index\\.ts|apps/social/)' },
    },
    {
      name: 'hub-knows-no-transport',
      comment: 'The hub is transport-agnostic: the gateway implements its Subscriber.',
      severity: 'error',
      from: { path: '^src/server/(hub|broker)/' },
      to: { path: '^src/server/realtime/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
