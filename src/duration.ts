const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `90s`, `5m`, `1h30m` or a bare number of minutes into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * UNITS.m;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new Error(`'${text}' is not a duration: write e.g. 90s, 20m or 1h30m`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit], 0);
}
