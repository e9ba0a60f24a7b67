/**
 * `tandem`: the command line. `tandem bench` measures polling against push on this machine (and
 * `tandem bench serve` runs its server alone); `tandem advise` turns a bench report into advice.
 * Run it as `npx tandem …` from a checkout (bin/tandem.mjs) or `npx tsx src/cli/main.ts …`.
 */
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { runAdvise } from './advise/main';
import { runBenchCommand } from './bench/command';
import { ExitCode, processIo, type CliIo, type CliStream } from './io';

const USAGE = `usage: tandem <command> [options]

Commands:
  bench     measure REST polling, SSE and WebSocket on this machine (tandem bench --help)
  advise    advice for your workload from a bench report (tandem advise --help)

Options:
  -h, --help     this help
  --version      the version of Tandem

Exit codes: 0 done, 1 the command failed, 2 a bad command line, 130 interrupted.
`;

/** Runs one command line (without the node and script arguments); resolves with the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.stderr : io.stdout).write(USAGE);
      return command === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (command === '--version') {
      const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
      io.stdout.write(`tandem ${pkg.version}\n`);
      return ExitCode.ok;
    }
    if (command === 'bench') return await runBenchCommand(rest, io);
    if (command === 'advise') return await runAdvise(rest, { stdin: process.stdin, stdout: writable(io.stdout), stderr: writable(io.stderr), cwd: io.cwd });
    io.stderr.write(`tandem: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return ExitCode.usage;
  } catch (error) {
    io.stderr.write(`tandem ${command}: ${(error as Error).stack ?? String(error)}\n`);
    return ExitCode.failure;
  }
}

/** Exits with `code` once the output is out; a handle left open cannot keep the process alive past a second. */
export function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) exitWith(await main(process.argv.slice(2)));

/** A command's output stream as the Writable that `tandem advise` (node:readline) writes its questions to. */
function writable(stream: CliStream): NodeJS.WritableStream {
  if (stream instanceof Writable) return stream;
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      stream.write(String(chunk));
      done();
    },
  });
}
