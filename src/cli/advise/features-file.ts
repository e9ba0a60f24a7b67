import { AnswerError, QUESTIONS, type Feature, type Question } from './feature';

/**
 * `--features=file.json`: several features in one file, for scripts. An array of objects (or
 * `{ "features": [...] }`) with the flags' answers under camelCase keys:
 *
 *   [{ "name": "feed", "initiator": "server", "changesPerMinute": 6, "freshness": "30s",
 *      "clients": 20000, "cache": "public", "payloadBytes": "4KiB" }]
 *
 * Values are read by the same parsers as the flags ("0.5/s", "10k", "4KiB" work); a bare number
 * for a duration is taken as milliseconds under `freshnessMs`. Unknown keys are refused, so a typo
 * is not silently a default.
 */

export class FeaturesFileError extends Error {
  override name = 'FeaturesFileError';
}

const KEYS: Record<string, Question> = {
  name: QUESTIONS.name as Question,
  initiator: QUESTIONS.initiator as Question,
  changesPerMinute: QUESTIONS.changesPerMinute as Question,
  clients: QUESTIONS.clients as Question,
  freshness: QUESTIONS.freshnessMs as Question,
  freshnessMs: { ...(QUESTIONS.freshnessMs as Question), parse: (raw) => QUESTIONS.freshnessMs.parse(`${raw}ms`) },
  cache: QUESTIONS.cache as Question,
  payloadBytes: QUESTIONS.payloadBytes as Question,
};

function entry(value: unknown, at: string): Partial<Feature> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FeaturesFileError(`${at} must be an object`);
  const feature: Partial<Feature> = {};
  for (const [key, raw] of Object.entries(value)) {
    const question = KEYS[key];
    if (!question) throw new FeaturesFileError(`${at}.${key} is not a feature's field (fields: ${Object.keys(KEYS).join(', ')})`);
    if (typeof raw !== 'string' && typeof raw !== 'number') throw new FeaturesFileError(`${at}.${key} must be a string or a number`);
    if (feature[question.key] !== undefined) throw new FeaturesFileError(`${at} gives ${question.key} twice (freshness and freshnessMs)`);
    try {
      (feature as Record<string, unknown>)[question.key] = question.parse(String(raw));
    } catch (error) {
      if (error instanceof AnswerError) throw new FeaturesFileError(`${at}.${key} ${error.message}; got ${JSON.stringify(raw)}`);
      throw error;
    }
  }
  if (feature.name === undefined) throw new FeaturesFileError(`${at} has no name`);
  return feature;
}

/**
 * The features a --features file describes (answers may still be missing: the flags' defaults
 * and the prompts fill them as for --feature).
 *
 * @example readFeaturesFile('[{"name":"feed","initiator":"server"}]') // [{ name: 'feed', initiator: 'server' }]
 */
export function readFeaturesFile(text: string): Partial<Feature>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FeaturesFileError(`not JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { features?: unknown } | null)?.features;
  if (!Array.isArray(list) || list.length === 0) throw new FeaturesFileError('must be a non-empty array of features, or { "features": [...] }');
  const features = list.map((value, i) => entry(value, `features[${i}]`));
  const names = features.map((f) => f.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new FeaturesFileError(`two features are named ${JSON.stringify(twice)}`);
  return features;
}
