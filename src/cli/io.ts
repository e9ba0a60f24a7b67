/**
 * What a `tandem` command gets from its process (so a test can run one with streams of its own),
 * and the exit codes every command keeps to.
 */

/** A stream a command writes to; `isTTY` says whether a person is watching (progress bars, colour). */
export interface CliStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  /** Where relative paths are taken from. */
  cwd: string;
}

/** Exit codes a script can rely on. */
export const ExitCode = {
  ok: 0,
  /** The command ran and failed (a server that would not start, a client that could not connect, a file that could not be written). */
  failure: 1,
  /** The command line was wrong: an unknown option, a bad value, a refused target. Nothing ran. */
  usage: 2,
  /** Interrupted (SIGINT / SIGTERM); children stopped, nothing written. */
  interrupted: 130,
} as const;

/** A mistake on the command line: reported with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The process's own streams. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}
