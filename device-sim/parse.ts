// Small parsers for command-line values. Each returns null when the text does not parse, so the
// caller can list every problem at once.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "500ms", "30s", "2m", "1.5h"; a bare number means seconds. Returns milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(text);
  if (m === null) return null;
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** "5", "5/s", "30/min", "2/h": messages per second. */
export function parseRate(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min|h))?\s*$/.exec(text);
  if (m === null) return null;
  const per = m[2] === undefined || m[2] === 's' || m[2] === 'sec' ? 1 : m[2] === 'h' ? 3600 : 60;
  const rate = Number(m[1]) / per;
  return Number.isFinite(rate) && rate > 0 ? rate : null;
}

export function parseIntInRange(text: string, min: number, max: number): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

/** A ratio 0–1, also written as a percentage ("2%"). */
export function parseRatio(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (m === null) return null;
  const value = Number(m[1]) / (m[2] ? 100 : 1);
  return value >= 0 && value <= 1 ? value : null;
}

/** "a=1,b=2" or "a,b" (each weight 1) → entries; null on a malformed item. */
export function parseWeights(
  text: string,
  parseValue: (v: string) => number | null,
): Array<[string, number]> | null {
  const out: Array<[string, number]> = [];
  for (const item of text.split(',')) {
    const [key, value, extra] = item.split('=').map((s) => s.trim());
    if (!key || extra !== undefined) return null;
    const n = value === undefined ? 1 : parseValue(value);
    if (n === null) return null;
    out.push([key, n]);
  }
  return out;
}

/** "1,234,567". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** "850 ms", "12.3 s", "4 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
