import { PassThrough, Writable } from 'node:stream';
import { runAdvise } from '../../src/cli/advise/main';

/** Runs `tandem advise` with streams of the test's own: stdin to write answers to, stdout and stderr captured. */
export interface AdviseRun {
  stdin: PassThrough;
  /** Resolves with the exit code and everything written. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

export function startAdvise(argv: string[], isTTY = false): AdviseRun {
  const stdin = new PassThrough();
  const out = sink();
  const err = sink();
  const done = runAdvise(argv, { stdin, stdout: out.stream, stderr: err.stream, isTTY }).then((code) => ({ code, stdout: out.text(), stderr: err.text() }));
  return { stdin, done };
}

/** Runs it to the end with nothing on stdin. */
export function advise(argv: string[], isTTY = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startAdvise(argv, isTTY);
  run.stdin.end();
  return run.done;
}
