/** Number formatting shared by the progress lines and the report ("n/a" for unknown values). */
export const fmt = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
export const fmtInt = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en-US'));
export const pct = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v * 100)}%`);
