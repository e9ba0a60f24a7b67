/** Number formatting shared by the progress lines and the report ("n/a" for unknown values). */
export const fmt = (n: number | null, digits = 0) => (n === null ? 'n/a' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
export const pct = (n: number | null) => (n === null ? 'n/a' : `${Math.round(n * 100)} %`);
