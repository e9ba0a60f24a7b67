import { closestName } from '../flags';
import { AnswerError, QUESTIONS, type Feature, type Question } from './feature';

/**
 * `tandem advise`'s command line. Flags are `--name=value` or `--name value`; `--feature=NAME`
 * starts a feature and the feature flags after it describe it; feature flags before the first
 * `--feature` apply to every feature. Every mistake is an AdviseUsageError naming the flag.
 */

export class AdviseUsageError extends Error {
  override name = 'AdviseUsageError';
}

export interface AdviseOptions {
  help: boolean;
  json: boolean;
  /** true: ask for what is missing even without a terminal; false: never ask; undefined: ask on a terminal. */
  interactive: boolean | undefined;
  costsFile?: string;
  featuresFile?: string;
  /** Feature flags given before the first --feature: every feature's defaults. */
  defaults: Partial<Feature>;
  /** One per --feature, in order. */
  features: Partial<Feature>[];
}

const BOOLEAN_FLAGS = ['help', 'json', 'interactive'] as const;
const FILE_FLAGS = { costs: 'costsFile', features: 'featuresFile' } as const;
/** Feature flag → its question (`--feature` is the name's). */
const FEATURE_FLAGS = new Map<string, Question>(Object.values(QUESTIONS).map((q) => [q.flag, q as Question]));
const ALL_FLAGS = [...BOOLEAN_FLAGS, ...Object.keys(FILE_FLAGS), ...FEATURE_FLAGS.keys()];

/** The closest flag name, for "did you mean". */
function suggest(name: string): string {
  const best = closestName(name, ALL_FLAGS);
  return best && (best.distance <= 2 || best.name.startsWith(name)) ? ` (did you mean --${best.name}?)` : '';
}

interface Token {
  name: string;
  value: string | undefined;
}

/** Splits argv into flags; a flag that takes a value and has no `=` takes the next argument. */
function tokens(argv: readonly string[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      out.push({ name: 'help', value: undefined });
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') throw new AdviseUsageError(`unexpected argument ${JSON.stringify(arg)} (options are spelt --name=value)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const negated = name === 'no-json' || name === 'no-interactive' ? name.slice(3) : undefined;
    if ((BOOLEAN_FLAGS as readonly string[]).includes(negated ?? name)) {
      if (eq !== -1) throw new AdviseUsageError(`--${name} takes no value`);
      out.push({ name, value: undefined });
      continue;
    }
    if (!ALL_FLAGS.includes(name)) throw new AdviseUsageError(`unknown option --${name}${suggest(name)}`);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') throw new AdviseUsageError(`--${name} needs a value (--${name}=VALUE)`);
    out.push({ name, value });
  }
  return out;
}

function setAnswer(target: Partial<Feature>, question: Question, raw: string, scope: string): void {
  if (target[question.key] !== undefined) throw new AdviseUsageError(`--${question.flag} given twice ${scope}`);
  try {
    (target as Record<string, unknown>)[question.key] = question.parse(raw);
  } catch (error) {
    if (error instanceof AnswerError) throw new AdviseUsageError(`--${question.flag} ${error.message}; got ${JSON.stringify(raw)}`);
    throw error;
  }
}

/**
 * Parses `tandem advise`'s arguments (not reading any file).
 *
 * @example parseAdviseArgs(['--feature=feed', '--initiator=server', '--changes-per-minute=6', '--freshness=30s'])
 */
export function parseAdviseArgs(argv: readonly string[]): AdviseOptions {
  const options: AdviseOptions = { help: false, json: false, interactive: undefined, defaults: {}, features: [] };
  const seen = new Set<string>();
  for (const { name, value } of tokens(argv)) {
    if (name === 'help') options.help = true;
    else if (name === 'json' || name === 'no-json') options.json = name === 'json';
    else if (name === 'interactive' || name === 'no-interactive') options.interactive = name === 'interactive';
    else if (name === 'costs' || name === 'features') {
      if (seen.has(name)) throw new AdviseUsageError(`--${name} given twice`);
      seen.add(name);
      options[FILE_FLAGS[name]] = value!;
    } else if (name === 'feature') {
      const feature: Partial<Feature> = {};
      setAnswer(feature, QUESTIONS.name as Question, value!, '');
      if (options.features.some((f) => f.name === feature.name)) throw new AdviseUsageError(`--feature=${feature.name} given twice (names must differ)`);
      options.features.push(feature);
    } else {
      const current = options.features.at(-1);
      const scope = current ? `for feature ${JSON.stringify(current.name)}` : 'before the first --feature';
      setAnswer(current ?? options.defaults, FEATURE_FLAGS.get(name)!, value!, scope);
    }
  }
  return options;
}

/** Whether any feature flag was given at all (before or after --feature). */
export function describesFeatures(options: AdviseOptions): boolean {
  return options.features.length > 0 || Object.keys(options.defaults).length > 0 || options.featuresFile !== undefined;
}
