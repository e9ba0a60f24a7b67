/** `tandem advise --help`. */
export const ADVISE_HELP = `usage: tandem advise [--costs=report.json] [--json] [FEATURE FLAGS…]

Recommends how each feature's data should travel: REST requests, REST polling with ETag
(through a CDN when the data is public), Server-Sent Events or WebSocket. For each feature it
shows what every alternative would cost the server (CPU, bytes, requests, connections held,
memory, worst delay) and why it recommends one.

Describe features with flags, a file, or answer the questions on a terminal (run it with no
feature flags). Feature flags before the first --feature apply to every feature.

Feature flags:
  --feature=NAME              start a feature (repeat for several)
  --initiator=WHO             server (pushes to clients), client (sends to the server), both
  --changes-per-minute=RATE   how often the data a client watches changes; for client
                              features, how often each client sends: 30, 0.5/s, 2/h, 1/d
  --freshness=DURATION        how stale a client's copy may be: 500ms, 2s, 1m (not for client)
  --clients=N                 clients using it at once: 1000, 10k (default 1,000)
  --cache=KIND                public (same for everyone, CDN-cacheable), private (per user),
                              none (default private)
  --payload-bytes=SIZE        bytes of one update: 800, 4KiB (default 1 KiB)
  --features=FILE.json        features from a file: [{"name": "feed", "initiator": "server",
                              "changesPerMinute": 6, "freshness": "30s", ...}]

Options:
  --costs=REPORT.json         use the costs a \`tandem bench --out=REPORT.json\` run measured
                              (default: modelled from Tandem's own benchmarks)
  --json                      print JSON for scripts instead of text
  --interactive               ask for missing answers even when stdin is not a terminal
  --no-interactive            never ask; a missing answer is an error
  -h, --help                  this help

Without a terminal, --initiator, --changes-per-minute and --freshness are required.

Exit codes: 0 advice printed, 2 bad usage (a flag, a file or an answer), 1 failure.

Examples:
  tandem advise --feature=chat --initiator=both --changes-per-minute=20 --freshness=500ms \\
                --feature=profile --initiator=server --changes-per-minute=1/d --freshness=1m --cache=public
  tandem advise --costs=bench-report.json --features=features.json --json
`;
