/** How the advisor writes numbers for a person: rates, durations, CPU, bytes. */

/** About three significant digits: 0.0123, 4.56, 78.9, 1,234. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)));
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Changes per minute as a person says it: "2/s", "30/min", "2/h", "3/day". */
export function rate(perMinute: number): string {
  if (perMinute === 0) return 'never';
  if (perMinute >= 60) return `${num(perMinute / 60)}/s`;
  if (perMinute >= 1) return `${num(perMinute)}/min`;
  if (perMinute * 60 >= 1) return `${num(perMinute * 60)}/h`;
  return `${num(perMinute * 1440)}/day`;
}

/** "250 ms", "2 s", "1.5 min", "2 h". */
export function duration(ms: number): string {
  if (ms >= 7_200_000) return `${num(ms / 3_600_000)} h`;
  if (ms >= 120_000) return `${num(ms / 60_000)} min`;
  if (ms >= 1000) return `${num(ms / 1000)} s`;
  return `${num(ms)} ms`;
}

/** Server CPU in ms per second, with its share of one core: "12.3 ms/s (1.23% of a core)". */
export function cpu(msPerSecond: number): string {
  return `${num(msPerSecond)} ms/s (${num(msPerSecond / 10)}% of a core)`;
}

/** Server CPU, short, for tables: "12.3 ms/s". */
export function cpuShort(msPerSecond: number): string {
  return `${num(msPerSecond)} ms/s`;
}

export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${num(n / 1024 ** 3)} GiB`;
  if (n >= 1024 ** 2) return `${num(n / 1024 ** 2)} MiB`;
  if (n >= 1024) return `${num(n / 1024)} KiB`;
  return `${num(n)} B`;
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** How many times a is b: "4.6×". */
export function times(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1×' : '∞×';
  return `${num(a / b)}×`;
}

/** A plain-text table: columns padded, numbers right-aligned (every column but the first). */
export function table(head: string[], rows: string[][], indent = '  '): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
