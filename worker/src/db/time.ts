/**
 * The one home of the tables' time format: `datetime('now')` text, `YYYY-MM-DD HH:MM:SS` in UTC
 * with no zone suffix. Times computed in JS are written and compared in this format, so SQL compares
 * text with text of the same shape (an ISO `T…Z` string would sort wrongly against it).
 */

/** An instant (a Date or epoch ms) → the tables' `YYYY-MM-DD HH:MM:SS` UTC text. */
export function toDbTime(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD HH:MM:SS` (naive UTC) → epoch ms; a trailing Z or offset is honoured, never doubled. NaN when empty. */
export function parseDbTime(s: string | null | undefined): number {
  if (!s) return NaN;
  const iso = s.includes('T') ? s : s.replace(' ', 'T');
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}
