/**
 * `npm run cluster -- --nodes 2`: the social app as N nodes of one cluster on this machine, one
 * process each (so N cores), on PostgreSQL (DATABASE_URL) and Redis (TANDEM_REDIS_URL). Node i
 * listens on BASE_PORT + i (default 3001, 3002, …) with TANDEM_NODE_ID=n<i>; put a load balancer in
 * front (deploy/nginx.conf expects exactly these). Each line of output starts with its node's id.
 * SIGINT/SIGTERM drains every node; the script exits when all have.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const usage = `Usage: npm run cluster -- [--nodes N] [--base-port P]

Runs the social app as N cluster nodes (default 2) on ports P+1..P+N (default P = 3000), node ids n1..nN.
Needs DATABASE_URL (PostgreSQL) and TANDEM_REDIS_URL (Redis) in the environment, e.g.
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem TANDEM_REDIS_URL=redis://127.0.0.1:6379 npm run cluster -- --nodes 2
Every other setting (README) applies to every node.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(64);
}

let values: { nodes?: string; 'base-port'?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { nodes: { type: 'string' }, 'base-port': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (values.help === true) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const nodes = Number(values.nodes ?? '2');
const basePort = Number(values['base-port'] ?? '3000');
if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64) fail(`--nodes must be an integer from 1 to 64, got ${values.nodes}`);
if (!Number.isInteger(basePort) || basePort < 1 || basePort + nodes > 65535) fail(`--base-port must leave room for ${nodes} ports, got ${values['base-port']}`);
if (!process.env.DATABASE_URL) fail('DATABASE_URL is not set: the nodes share their data through PostgreSQL.');
if (!process.env.TANDEM_REDIS_URL) fail('TANDEM_REDIS_URL is not set: the nodes share channels, presence and revocations through Redis.');

const root = path.resolve(import.meta.dirname, '..');
const children: ChildProcess[] = [];
let stopping = false;

for (let i = 1; i <= nodes; i += 1) {
  const id = `n${i}`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/apps/social/main.ts')], {
    cwd: root,
    env: { ...process.env, PORT: String(basePort + i), TANDEM_NODE_ID: id, HOST: process.env.HOST ?? '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prefixLines(child.stdout!, process.stdout, id);
  prefixLines(child.stderr!, process.stderr, id);
  child.on('exit', (code, signal) => {
    process.stderr.write(`[${id}] exited (${signal ?? code})\n`);
    if (!stopping) stopAll('SIGTERM');
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(stopping ? 0 : 1);
  });
  children.push(child);
}

function stopAll(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

function prefixLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, id: string): void {
  let rest = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) to.write(`[${id}] ${line}\n`);
  });
  from.on('end', () => {
    if (rest !== '') to.write(`[${id}] ${rest}\n`);
  });
}
