/**
 * The run's progress: a cli-progress bar on stderr when a person is watching (stderr is a TTY
 * and not --quiet), measured in seconds against the run's estimate, with the strategy and phase
 * it is in; a timestamped line per phase with --verbose; nothing at all otherwise, so a script's
 * output stays clean.
 */
import cliProgress from 'cli-progress';
import type { CliStream } from '../io';

export interface Progress {
  /** What the run is doing now, e.g. ('websocket', 'measuring'). */
  phase(strategy: string, what: string): void;
  /** A line printed above the bar (nothing when no one is watching). */
  note(text: string): void;
  stop(): void;
}

const silent: Progress = { phase: () => undefined, note: () => undefined, stop: () => undefined };

/** One timestamped line per phase (--verbose), for logs and for seeing where a run's time goes. */
function lines(stream: CliStream): Progress {
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s]`;
  return {
    phase: (strategy, what) => void stream.write(`${stamp()} ${strategy}: ${what}\n`),
    note: (text) => void stream.write(`${stamp()} ${text}\n`),
    stop: () => undefined,
  };
}

export function createProgress(stream: CliStream, mode: 'auto' | 'quiet' | 'verbose', estimateSeconds: number): Progress {
  if (mode === 'verbose') return lines(stream);
  if (mode === 'quiet' || stream.isTTY !== true) return silent;
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as unknown as NodeJS.WritableStream,
      format: ' {bar} {percentage}% | {duration_formatted} of ~{total_formatted} | {strategy}: {what}',
      barsize: 28,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let total = Math.max(1, Math.round(estimateSeconds));
  const started = Date.now();
  const payload = { strategy: '', what: 'starting', total_formatted: formatSeconds(total) };
  bar.start(total, 0, payload);
  const timer = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    if (elapsed > total * 0.98) {
      total = Math.ceil(elapsed * 1.1);
      bar.setTotal(total);
      payload.total_formatted = formatSeconds(total);
    }
    bar.update(Math.round(elapsed), payload);
  }, 250);
  timer.unref();
  return {
    phase(strategy, what) {
      payload.strategy = strategy;
      payload.what = what;
      bar.update(payload);
    },
    note(text) {
      bar.stop();
      stream.write(`${text}\n`);
      bar.start(total, Math.round((Date.now() - started) / 1000), payload);
    },
    stop() {
      clearInterval(timer);
      bar.stop();
    },
  };
}

function formatSeconds(seconds: number): string {
  return seconds < 90 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}
