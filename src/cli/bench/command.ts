/**
 * `tandem bench` and `tandem bench serve`: parse, run, write the JSON and HTML reports, print the
 * summary; every failure ends in a documented exit code (io.ts, ExitCode).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFlags } from '../flags';
import { ExitCode, UsageError, type CliIo } from '../io';
import { runBench } from './engine';
import { writeHtmlReport } from './html/index';
import { BENCH_USAGE, benchHelp } from './help';
import { estimateSeconds, parseBenchArgs, type BenchOptions } from './options';
import { createProgress } from './progress';
import type { BenchReport } from './report';
import { renderSummary } from './table';
import { checkServeHost, checkTargetUrl, killEmbeddedServers } from './target';

function usageFailure(io: CliIo, error: UsageError): number {
  io.stderr.write(`tandem bench: ${error.message}\n${BENCH_USAGE}\n`);
  return ExitCode.usage;
}

/** Runs `tandem bench ...` (argv after `bench`); resolves with the exit code. */
export async function runBenchCommand(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'serve') return runServeCommand(argv.slice(1), io);
  let options: BenchOptions;
  try {
    const command = parseBenchArgs(argv, io.cwd);
    if (command.kind === 'help') {
      io.stdout.write(benchHelp());
      return ExitCode.ok;
    }
    options = command.options;
    if (options.url !== undefined) options.url = (await checkTargetUrl(options.url, options.allowRemote)).href;
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error);
    throw error;
  }
  return runAndReport(options, io);
}

async function runAndReport(options: BenchOptions, io: CliIo): Promise<number> {
  const progress = createProgress(io.stderr, options.progress, estimateSeconds(options));
  const stopAll = () => {
    progress.stop();
    killEmbeddedServers();
  };
  const interrupted = (signal: NodeJS.Signals) => {
    stopAll();
    io.stderr.write(`\ntandem bench: ${signal}: stopped, nothing written\n`);
    process.exit(ExitCode.interrupted);
  };
  const watchdog = setTimeout(() => {
    stopAll();
    io.stderr.write(`\ntandem bench: still running after ${options.timeoutSeconds} s (--timeout): gave up, nothing written\n`);
    process.exit(ExitCode.failure);
  }, options.timeoutSeconds * 1000);
  watchdog.unref();
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted).on('exit', killEmbeddedServers);
  let report: BenchReport;
  try {
    report = await runBench(options, progress);
  } catch (error) {
    stopAll();
    io.stderr.write(`tandem bench: ${(error as Error).message}\n`);
    return ExitCode.failure;
  } finally {
    clearTimeout(watchdog);
    progress.stop();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted).off('exit', killEmbeddedServers);
  }
  io.stdout.write(`${renderSummary(report)}\n\n`);
  return writeReports(report, options, io);
}

async function writeReports(report: BenchReport, options: BenchOptions, io: CliIo): Promise<number> {
  try {
    await fs.mkdir(path.dirname(options.out), { recursive: true });
    await fs.writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    io.stdout.write(`JSON report: ${options.out}\n`);
  } catch (error) {
    io.stderr.write(`tandem bench: could not write ${options.out}: ${(error as Error).message}\n`);
    return ExitCode.failure;
  }
  if (options.html === undefined) return ExitCode.ok;
  try {
    await fs.mkdir(path.dirname(options.html), { recursive: true });
    await writeHtmlReport(report, options.html);
    io.stdout.write(`HTML report: ${options.html}\n`);
  } catch (error) {
    io.stderr.write(`tandem bench: could not write ${options.html}: ${(error as Error).message}\n`);
    return ExitCode.failure;
  }
  return ExitCode.ok;
}

const SERVE_FLAGS = {
  help: { kind: 'boolean' },
  port: { kind: 'integer', min: 0, max: 65_535 },
  host: { kind: 'string' },
  'allow-remote': { kind: 'boolean' },
} as const;

/** `tandem bench serve`: the bench server alone, until SIGTERM / SIGINT. */
async function runServeCommand(argv: string[], io: CliIo): Promise<number> {
  let port: number;
  let host: string;
  try {
    const { values, positionals } = parseFlags(argv, SERVE_FLAGS);
    if (values.get('help') === true) {
      io.stdout.write(`${BENCH_USAGE}\n\nRuns the bench server (the app \`tandem bench\` measures) until SIGTERM or SIGINT, for \`tandem bench --url\`.\n  --port=N (default 4100; 0: any free port)  --host=H (default 127.0.0.1)  --allow-remote (listen beyond loopback)\n`);
      return ExitCode.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    port = (values.get('port') as number | undefined) ?? 4100;
    host = (values.get('host') as string | undefined) ?? '127.0.0.1';
    checkServeHost(host, values.get('allow-remote') === true);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error);
    throw error;
  }
  try {
    const { serveUntilStopped } = await import('./server/serve');
    return await serveUntilStopped({ port, host }, io.stdout);
  } catch (error) {
    io.stderr.write(`tandem bench serve: ${(error as Error).message}\n`);
    return ExitCode.failure;
  }
}
