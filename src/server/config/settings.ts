import { trustFunction, type TrustProxy } from '../http/client-address';

/**
 * Settings read from the environment, declared as data: each one names its variable, its default
 * and what it means, so the same declaration validates the value at start, types it, and renders
 * the README's table. The library's settings (config.ts) and an app's own are declared alike.
 */

type Env = Record<string, string | undefined>;

/** One environment variable: how to read it, its default, and a line for the docs. */
export interface Setting<T> {
  readonly env: string;
  readonly doc: string;
  /** The default as the docs show it. */
  readonly shown: string;
  /** Reads the raw value (undefined when unset or blank); pushes a problem and returns the default when bad. */
  read(raw: string | undefined, problems: string[]): T;
}

/** A tree of settings: the library's config groups them (http, store, auth, realtime). */
export type SettingsSpec = { readonly [key: string]: Setting<unknown> | SettingsSpec };

/** The values a spec reads to, with their types. */
export type SettingsOf<S> = { -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : SettingsOf<S[K]> };

function isSetting(value: Setting<unknown> | SettingsSpec): value is Setting<unknown> {
  return typeof (value as Setting<unknown>).read === 'function';
}

/** The configuration is invalid; `problems` names every bad variable (a server exits with 78, EX_CONFIG). */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads every setting of `spec` from `env`, collecting problems instead of stopping at the first. */
export function readSettings<S extends SettingsSpec>(spec: S, env: Env, problems: string[]): SettingsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(spec)) {
    if (isSetting(entry)) {
      const raw = env[entry.env];
      out[key] = entry.read(raw === undefined || raw.trim() === '' ? undefined : raw.trim(), problems);
    } else {
      out[key] = readSettings(entry, env, problems);
    }
  }
  return out as SettingsOf<S>;
}

/** Every setting of a spec, flattened, in declaration order (for docs and checks). */
export function listSettings(spec: SettingsSpec): Setting<unknown>[] {
  return Object.values(spec).flatMap((entry) => (isSetting(entry) ? [entry] : listSettings(entry)));
}

/** The markdown rows `| variable | default | meaning |` of a spec. */
export function settingsRows(spec: SettingsSpec): string[] {
  return listSettings(spec).map((s) => `| \`${s.env}\` | ${s.shown === '' ? 'none' : `\`${s.shown}\``} | ${s.doc} |`);
}

/** What a parser makes of a raw value: the value, or what is wrong with it. */
type Parsed<T> = { value: T } | { problem: string };

function make<T>(env: string, doc: string, shown: string, fallback: T, parse: (raw: string) => Parsed<T>): Setting<T> {
  return {
    env,
    doc,
    shown,
    read(raw, problems) {
      if (raw === undefined) return fallback;
      const parsed = parse(raw);
      if ('value' in parsed) return parsed.value;
      problems.push(`${env}: ${parsed.problem}`);
      return fallback;
    },
  };
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** Builders for settings. Each takes the variable name, the default and a line of documentation. */
export const setting = {
  integer(env: string, fallback: number, range: { min: number; max: number }, doc: string): Setting<number> {
    return make<number>(env, doc, String(fallback), fallback, (raw) => {
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value)) return { problem: `expected an integer, got ${JSON.stringify(raw)}` };
      if (value < range.min || value > range.max) return { problem: `must be between ${range.min} and ${range.max}, got ${value}` };
      return { value };
    });
  },

  boolean(env: string, fallback: boolean, doc: string): Setting<boolean> {
    return make<boolean>(env, doc, String(fallback), fallback, (raw) => {
      const lower = raw.toLowerCase();
      if (TRUE.includes(lower)) return { value: true };
      if (FALSE.includes(lower)) return { value: false };
      return { problem: `expected true or false, got ${JSON.stringify(lower)}` };
    });
  },

  string(env: string, fallback: string, doc: string): Setting<string> {
    return make(env, doc, fallback, fallback, (raw) => ({ value: raw }));
  },

  oneOf<const T extends string>(env: string, fallback: T, allowed: readonly T[], doc: string): Setting<T> {
    return make<T>(env, doc, fallback, fallback, (raw) => (allowed.includes(raw as T) ? { value: raw as T } : { problem: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}` }));
  },

  /** A secret of at least `minLength` characters, or undefined when unset. */
  secret(env: string, minLength: number, doc: string): Setting<string | undefined> {
    return {
      env,
      doc,
      shown: '',
      read(raw, problems) {
        if (raw !== undefined && raw.length < minLength) {
          problems.push(`${env}: must be at least ${minLength} characters (got ${raw.length})`);
          return undefined;
        }
        return raw;
      },
    };
  },

  /** A comma-separated list of origins like https://app.example.com. */
  origins(env: string, doc: string): Setting<string[]> {
    return {
      env,
      doc,
      shown: '',
      read(raw, problems) {
        if (raw === undefined) return [];
        const origins: string[] = [];
        for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
          if (originOf(item) !== item) problems.push(`${env}: ${JSON.stringify(item)} is not an origin like https://app.example.com`);
          else origins.push(item);
        }
        return origins;
      },
    };
  },

  /**
   * Which proxies to believe about the client's address: `false`, `true` (every hop: clients can
   * then claim any address), a number of hops, or a comma-separated list of the proxies'
   * addresses, CIDRs and the names `loopback`, `linklocal`, `uniquelocal`.
   */
  trustProxy(env: string, doc: string): Setting<TrustProxy> {
    return make<TrustProxy>(env, doc, 'false', false, (raw) => {
      if (/^\d+$/.test(raw)) return { value: Number(raw) };
      const lower = raw.toLowerCase();
      if (lower === 'true' || lower === 'false') return { value: lower === 'true' };
      const list = raw.split(',').map((item) => item.trim()).filter(Boolean);
      try {
        trustFunction(list);
        return { value: list };
      } catch {
        return { problem: `expected true, false, a number of proxy hops, or proxy addresses/CIDRs (e.g. 10.0.0.0/8,loopback), got ${JSON.stringify(raw)}` };
      }
    });
  },
};

function originOf(item: string): string | undefined {
  try {
    const url = new URL(item);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}
