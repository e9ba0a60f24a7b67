/**
 * Bench knobs: each one a `--name=value` flag or, failing that, an environment variable, or the
 * default. The flag wins so a one-off run can override an exported variable.
 */

/** The value of `--name=…`, else `envName` (trimmed, when not blank), else `fallback`. */
export function option(name: string, envName: string, fallback: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (flag !== undefined) return flag.slice(name.length + 3);
  const env = process.env[envName];
  return env !== undefined && env.trim() !== '' ? env.trim() : fallback;
}

/** An integer option of at least `min` (default 1); anything else throws, naming the flag and variable. */
export function intOption(name: string, envName: string, fallback: number, min = 1): number {
  const raw = option(name, envName, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} / ${envName}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}
