import fs from 'node:fs/promises';
import path from 'node:path';
import { asBenchReport, costModelFromReport, CostsFileError, MODELLED, type CostModel } from './cost-model';
import { completeFeature, missingAnswers, QUESTIONS, type Feature } from './feature';
import { FeaturesFileError, readFeaturesFile } from './features-file';
import { AdviseUsageError, describesFeatures, parseAdviseArgs, type AdviseOptions } from './flags';
import { ADVISE_HELP } from './help';
import { askFeature, askFeatures, createPrompter, InputEndedError } from './interactive';
import { renderJson, renderText } from './render';
import { advise, THRESHOLDS } from './rules';

/** What `tandem advise` gets from its process; a test passes streams of its own. */
export interface AdviseIo {
  /** Where answers are read from (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether a person is at stdin, so missing answers are asked (default: whether stdin is a terminal). */
  isTTY?: boolean;
  /** Where relative --costs and --features paths are taken from (default: process.cwd()). */
  cwd?: string;
}

interface Process {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
  cwd: string;
}

function withDefaults(io: AdviseIo): Process {
  const stdin = io.stdin ?? process.stdin;
  return { stdin, stdout: io.stdout, stderr: io.stderr, isTTY: io.isTTY ?? (stdin as { isTTY?: boolean }).isTTY === true, cwd: io.cwd ?? process.cwd() };
}

async function readText(flag: string, file: string, cwd: string): Promise<string> {
  try {
    return await fs.readFile(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    throw new AdviseUsageError(`--${flag}=${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

async function costModel(options: AdviseOptions, cwd: string): Promise<CostModel> {
  if (options.costsFile === undefined) return MODELLED;
  const text = await readText('costs', options.costsFile, cwd);
  try {
    return costModelFromReport(asBenchReport(JSON.parse(text)), options.costsFile);
  } catch (error) {
    if (error instanceof CostsFileError || error instanceof SyntaxError) throw new AdviseUsageError(`--costs=${options.costsFile}: ${error.message}`);
    throw error;
  }
}

/** The features the flags and --features describe, each with the pre-feature defaults under its own answers. */
async function describedFeatures(options: AdviseOptions, cwd: string): Promise<Partial<Feature>[]> {
  let fromFile: Partial<Feature>[] = [];
  if (options.featuresFile !== undefined) {
    try {
      fromFile = readFeaturesFile(await readText('features', options.featuresFile, cwd));
    } catch (error) {
      if (error instanceof FeaturesFileError) throw new AdviseUsageError(`--features=${options.featuresFile}: ${error.message}`);
      throw error;
    }
  }
  const listed = [...fromFile, ...options.features];
  const clash = options.features.find((f) => fromFile.some((g) => g.name === f.name));
  if (clash) throw new AdviseUsageError(`--feature=${clash.name} is also in --features=${options.featuresFile}`);
  // Flags with no --feature and no file describe one feature.
  const features = listed.length > 0 ? listed : [{ name: 'feature' }];
  return features.map((f) => ({ ...options.defaults, ...f }));
}

function missingError(partial: Partial<Feature>, missing: (keyof Feature)[]): AdviseUsageError {
  const flags = missing.map((key) => `--${QUESTIONS[key].flag}`).join(', ');
  return new AdviseUsageError(`feature ${JSON.stringify(partial.name)} needs ${flags} (or run it on a terminal to be asked)`);
}

async function gatherFeatures(options: AdviseOptions, io: Process): Promise<Feature[]> {
  const mayAsk = options.interactive ?? io.isTTY;
  // With --json, stdout is for the JSON alone: the questions go to stderr.
  const prompter = () => createPrompter(io.stdin, options.json ? io.stderr : io.stdout);
  if (!describesFeatures(options)) {
    if (!mayAsk) throw new AdviseUsageError('describe a feature: --feature=NAME with --initiator, --changes-per-minute and --freshness, or --features=FILE.json, or run it on a terminal to be asked');
    const p = prompter();
    try {
      return await askFeatures(p, options.defaults);
    } finally {
      p.close();
    }
  }
  const partials = await describedFeatures(options, io.cwd);
  const incomplete = partials.filter((f) => missingAnswers(f).length > 0);
  if (incomplete.length === 0) return partials.map((f) => completeFeature(f as Feature));
  if (!mayAsk) throw missingError(incomplete[0]!, missingAnswers(incomplete[0]!));
  const p = prompter();
  try {
    const features: Feature[] = [];
    for (const partial of partials) {
      if (missingAnswers(partial).length > 0) p.say(`Feature ${JSON.stringify(partial.name)}:`);
      features.push(await askFeature(p, partial, options.defaults, false));
    }
    p.say('');
    return features;
  } finally {
    p.close();
  }
}

/**
 * `tandem advise`: recommends REST, polling, SSE or WebSocket per feature, with every
 * alternative's cost and the reasons. Returns the exit code: 0 advice printed, 2 bad usage
 * (a flag, a file, an answer, or input that ended early), 1 failure.
 *
 * @example await runAdvise(['--feature=feed', '--initiator=server', '--changes-per-minute=6', '--freshness=30s'], { stdout: process.stdout, stderr: process.stderr })
 */
export async function runAdvise(argv: string[], given: AdviseIo): Promise<number> {
  const io = withDefaults(given);
  try {
    const options = parseAdviseArgs(argv);
    if (options.help) {
      io.stdout.write(ADVISE_HELP);
      return 0;
    }
    const model = await costModel(options, io.cwd);
    const features = await gatherFeatures(options, io);
    const advice = features.map((f) => advise(f, model, THRESHOLDS));
    io.stdout.write(options.json ? renderJson(advice, model, THRESHOLDS) : renderText(advice, model));
    return 0;
  } catch (error) {
    if (error instanceof AdviseUsageError || error instanceof InputEndedError) {
      io.stderr.write(`tandem advise: ${error.message}\nRun \`tandem advise --help\` for the options.\n`);
      return 2;
    }
    io.stderr.write(`tandem advise: failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
