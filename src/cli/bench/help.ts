import { DEFAULT_WORKLOAD as D, MAX_CHANGES_PER_SECOND, MAX_POLLS_PER_SECOND, QUICK_WORKLOAD as Q } from './options';

export const BENCH_USAGE = 'usage: tandem bench [options] | tandem bench serve [--port=N] [--host=H] | tandem bench --help';

/** `tandem bench --help`. */
export function benchHelp(): string {
  return `${BENCH_USAGE}

Measures what it costs to keep clients up to date with a changing resource, strategy by strategy,
on this machine: REST polling with ETags (304s: the fair version), REST polling without conditional
requests, Server-Sent Events and WebSocket. Long-polling is not measured: Tandem offers no long-poll
endpoint (REST answers at once; changes are pushed over WebSocket or SSE).

Each strategy gets a fresh bench server (a Tandem app in a child process, pinned to its own core when
possible): the same resources change at the same rate while the clients follow them. Per strategy it
reports bytes per delivered update in each direction at the socket (headers and framing included),
delivery latency p50/p99 (change to client), stale reads, server CPU per 1,000 updates, server memory
per connected client and the requests/s the server answered; then where push becomes cheaper than
polling (the crossover), and whether three claims of "WebSocket vs REST" hold here.

Workload (defaults; --quick in brackets):
  --clients=N          clients per strategy                                ${D.clients} [${Q.clients}]
  --watchers=N         clients watching the same resource                 ${D.watchersPerResource} [${Q.watchersPerResource}]
  --change-rate=R      changes per second of each resource, on average     ${D.changesPerSecond} [${Q.changesPerSecond}]
                       (at random times: a Poisson process; 0.001-100)
  --payload=BYTES      JSON size of the resource and of a pushed update    ${D.payloadBytes} [${Q.payloadBytes}]
  --poll-interval=MS   how often a polling client asks                     ${D.pollIntervalMs} [${Q.pollIntervalMs}]
  --duration=S         measured seconds per strategy                       ${D.durationSeconds} [${Q.durationSeconds}]
  --warmup=S           unmeasured seconds before                           ${D.warmupSeconds} [${Q.warmupSeconds}]
  --quick              a small workload that finishes in under a minute
  --strategies=LIST    comma-separated subset of poll-etag,poll-plain,sse,websocket (default: all)
  --headers=PROFILE    browser: the headers Chrome adds to a same-origin fetch (default);
                       minimal: only what the request needs
  --auth=MODE          token: polls carry an access token, as a signed-in app's do (default);
                       none: polls read a public resource (push clients always authenticate)

Target:
  --url=URL            a running \`tandem bench serve\` instead of starting servers (one server for
                       every strategy); only on this machine (loopback) unless --allow-remote
  --allow-remote       allow a --url (or a serve --host) that is not loopback
  --no-pin             do not pin the server and the clients to separate CPUs (taskset)
  --server-node-args=A node options for the servers it starts, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"

Output:
  --out=FILE           the JSON report (default tandem-bench/report.json)
  --html=FILE          the self-contained HTML report (default: report.html next to --out)
  --no-html            no HTML report
  --quiet              no progress bar (there is none when stderr is not a terminal)
  --verbose            a timestamped line per phase on stderr instead of the bar
  --timeout=S          give up after S seconds (default: twice the estimate plus a minute)
  -h, --help           this help

Limits: at most 10,000 clients, ${MAX_POLLS_PER_SECOND.toLocaleString('en-US')} polls/s offered and ${MAX_CHANGES_PER_SECOND.toLocaleString('en-US')} changes/s; every run ends within --timeout.

tandem bench serve [--port=4100] [--host=127.0.0.1] [--allow-remote]
  runs the bench server alone, for --url (e.g. on another machine, so the clients do not share its CPUs).

Exit codes: 0 done (report written); 1 the run failed (a server that did not start, a client that could
not connect, a report that could not be written); 2 a bad command line or a refused target (nothing ran);
130 interrupted.

Examples:
  npx tandem bench --quick
  npm run bench:compare -- --clients=1000 --poll-interval=5000 --change-rate=0.1
  tandem bench serve --port=4100 & tandem bench --url=http://127.0.0.1:4100 --strategies=poll-etag,websocket
`;
}
