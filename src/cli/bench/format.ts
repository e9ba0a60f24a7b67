/** Number formatting shared by the table and the claims' evidence. */

/** 1234567 → "1,234,567"; fractions kept to `digits`. */
export function num(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Bytes in B, KiB or MiB. */
export function bytes(value: number): string {
  const abs = Math.abs(value);
  if (abs < 1024) return `${num(value, 0)} B`;
  if (abs < 1024 * 1024) return `${num(value / 1024, 1)} KiB`;
  return `${num(value / (1024 * 1024), 1)} MiB`;
}

/** Milliseconds, with µs below 1 ms. */
export function ms(value: number): string {
  if (value < 1) return `${num(value * 1000, 0)} µs`;
  if (value < 100) return `${num(value, 1)} ms`;
  return `${num(value, 0)} ms`;
}

/** A change rate per second, readable from once an hour to many per second. */
export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'any rate';
  if (perSecond >= 1) return `${num(perSecond, 1)}/s`;
  if (perSecond * 60 >= 1) return `${num(perSecond * 60, 1)}/min`;
  return `${num(perSecond * 3600, 1)}/h`;
}

/** Milliseconds of an interval as "250 ms", "2 s", "1 min". */
export function interval(msValue: number): string {
  if (msValue < 1000) return `${num(msValue)} ms`;
  if (msValue < 60_000) return `${num(msValue / 1000, 1)} s`;
  return `${num(msValue / 60_000, 1)} min`;
}
