/** Number formatting for the report's tables (en-US grouping, units a reader expects). */

import type { StrategyName } from '../report';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12,345 */
export function count(n: number): string {
  return grouped.format(n);
}

/** A number with about three significant digits: 0.00123, 4.56, 78.9, 1,234. */
export function decimal(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 100 || abs === 0) return grouped.format(n);
  const digits = abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)));
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(n);
}

/** Milliseconds: "0.62 ms", "503 ms", "1.2 s", "2 min". */
export function ms(n: number): string {
  if (n >= 120_000) return `${decimal(n / 60_000)} min`;
  if (n >= 1000) return `${decimal(n / 1000)} s`;
  return `${decimal(n)} ms`;
}

/** Bytes in binary units: "1,083 B", "3.67 KiB", "20.5 MiB". */
export function bytes(n: number): string {
  if (Math.abs(n) >= 1024 ** 3) return `${decimal(n / 1024 ** 3)} GiB`;
  if (Math.abs(n) >= 1024 ** 2) return `${decimal(n / 1024 ** 2)} MiB`;
  if (Math.abs(n) >= 10 * 1024) return `${decimal(n / 1024)} KiB`;
  return `${count(n)} B`;
}

/** 0.5 → "0.5/s" */
export function perSecond(n: number): string {
  return `${decimal(n)}/s`;
}

/** 0.4312 → "43.1%" */
export function percent(fraction: number): string {
  return `${decimal(fraction * 100)}%`;
}

export const STRATEGY_LABELS: Record<StrategyName, string> = {
  'poll-etag': 'Polling with ETag',
  'poll-plain': 'Polling, no validators',
  sse: 'Server-Sent Events',
  websocket: 'WebSocket',
};

/** Colours from the Okabe–Ito palette, told apart with every common colour-vision deficiency. */
export const STRATEGY_COLORS: Record<StrategyName, string> = {
  'poll-etag': '#0072B2',
  'poll-plain': '#56B4E9',
  sse: '#009E73',
  websocket: '#D55E00',
};

/** A strategy this version does not know (a newer report) still gets a label and a colour. */
export function strategyLabel(name: string): string {
  return (STRATEGY_LABELS as Record<string, string>)[name] ?? name;
}

export function strategyColor(name: string): string {
  return (STRATEGY_COLORS as Record<string, string>)[name] ?? '#777777';
}
