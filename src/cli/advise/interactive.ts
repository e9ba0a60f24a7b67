import { createInterface } from 'node:readline/promises';
import { AnswerError, completeFeature, DEFAULT_ANSWERS, missingAnswers, QUESTIONS, type Feature, type Question } from './feature';

/**
 * The questions, asked one by one on a terminal (or any stream: tests drive it with a
 * PassThrough). Each prompt shows its default in brackets; Enter takes it. A wrong answer says
 * why and asks again.
 */

/** The input ended before every question had its answer. */
export class InputEndedError extends Error {
  override name = 'InputEndedError';
}

export interface Prompter {
  /** Asks until `parse` accepts an answer (Enter alone takes `fallback`, when there is one). */
  ask<T>(text: string, fallback: string | undefined, parse: (raw: string) => T): Promise<T>;
  say(text: string): void;
  close(): void;
}

/**
 * A prompter over `input`/`output`. Lines are read through the interface's async iterator, which
 * buffers them: answers piped in all at once are not lost between two questions.
 */
export function createPrompter(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Prompter {
  const terminal = (input as { isTTY?: boolean }).isTTY === true;
  const rl = createInterface({ input, output, terminal });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(text, fallback, parse) {
      for (;;) {
        rl.setPrompt(fallback === undefined ? `${text}: ` : `${text} [${fallback}]: `);
        rl.prompt();
        const next = await lines.next();
        if (next.done) throw new InputEndedError('the input ended before every question was answered');
        // A terminal echoes what was typed; piped answers are echoed here, so the transcript reads as a dialogue.
        if (!terminal) output.write(`${next.value}\n`);
        const answer = next.value.trim() === '' ? fallback : next.value;
        if (answer === undefined) {
          output.write('  An answer is needed.\n');
          continue;
        }
        try {
          return parse(answer);
        } catch (error) {
          if (!(error instanceof AnswerError)) throw error;
          output.write(`  That ${error.message}.\n`);
        }
      }
    },
    say(text) {
      output.write(`${text}\n`);
    },
    close() {
      rl.close();
    },
  };
}

/** Defaults shown for the answers that have none of their own (the ones that decide). */
const PROMPT_DEFAULTS: Pick<Feature, 'initiator' | 'changesPerMinute' | 'freshnessMs'> = { initiator: 'server', changesPerMinute: 1, freshnessMs: 5000 };

function prompts(initiator: Feature['initiator'] | undefined): Record<keyof Feature, string> {
  return {
    name: 'Feature name',
    initiator: 'Who sends: server (pushes to clients), client (sends to the server) or both (e.g. chat)',
    changesPerMinute:
      initiator === 'client' ? 'How often does each client send, per minute (or 1/s, 2/h)' : 'How often does the data a client watches change, per minute (or 0.5/s, 2/h)',
    clients: 'How many clients use it at the same time',
    freshnessMs: 'How fresh must a client\'s copy be (e.g. 500ms, 2s, 1m)',
    cache: 'Can answers be cached: public (the same for everyone, a CDN may keep it), private (per user) or none',
    payloadBytes: 'How big is one update, in bytes (e.g. 800, 4KiB)',
  };
}

function show<K extends keyof Feature>(key: K, value: Feature[K]): string {
  return (QUESTIONS[key] as unknown as Question<K>).show(value);
}

/**
 * Asks what `partial` lacks: every question (defaults from `defaults`) when `all`, else only the
 * answers that decide and are missing.
 */
export async function askFeature(p: Prompter, partial: Partial<Feature>, defaults: Partial<Feature>, all: boolean): Promise<Feature> {
  const answers: Partial<Feature> = { ...partial };
  const fallbacks: Partial<Feature> = { ...DEFAULT_ANSWERS, ...PROMPT_DEFAULTS, ...defaults };
  const order: (keyof Feature)[] = ['name', 'initiator', 'changesPerMinute', 'clients', 'freshnessMs', 'cache', 'payloadBytes'];
  for (const key of order) {
    if (answers[key] !== undefined) continue;
    const needed = all || missingAnswers(answers).includes(key);
    if (!needed) continue;
    if (answers.initiator === 'client' && (key === 'freshnessMs' || key === 'cache')) continue;
    const fallback = fallbacks[key];
    const question = QUESTIONS[key] as unknown as Question;
    (answers as Record<string, unknown>)[key] = await p.ask(prompts(answers.initiator)[key], fallback === undefined ? undefined : show(key, fallback as never), question.parse);
  }
  return completeFeature({ ...defaults, ...answers } as Feature);
}

/** Asks for features one after another until the person says there are no more. */
export async function askFeatures(p: Prompter, defaults: Partial<Feature>): Promise<Feature[]> {
  const features: Feature[] = [];
  for (;;) {
    p.say(features.length === 0 ? 'Describe a feature (Enter takes the value in brackets).' : '');
    const name = await p.ask(prompts(undefined).name, `feature-${features.length + 1}`, (raw) => {
      const value = QUESTIONS.name.parse(raw);
      if (features.some((f) => f.name === value)) throw new AnswerError('name is taken by an earlier feature');
      return value;
    });
    features.push(await askFeature(p, { name }, defaults, true));
    const more = await p.ask('Another feature? (y/n)', 'n', (raw) => {
      if (/^y(es)?$/i.test(raw.trim())) return true;
      if (/^no?$/i.test(raw.trim())) return false;
      throw new AnswerError('is a yes or no question');
    });
    if (!more) {
      p.say('');
      return features;
    }
  }
}
