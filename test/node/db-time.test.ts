import { describe, expect, it } from 'vitest';
import { parseDbTime, toDbTime } from '../../worker/src/db/time.js';
import { sqlTime } from '../../worker/src/plugins/sdk.js';

describe("db/time: the tables' datetime('now') format", () => {
  it('formats a Date or epoch ms as YYYY-MM-DD HH:MM:SS UTC, dropping milliseconds', () => {
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 999);
    expect(toDbTime(at)).toBe('2026-01-02 03:04:05');
    expect(toDbTime(new Date(at))).toBe('2026-01-02 03:04:05');
    expect(toDbTime(0)).toBe('1970-01-01 00:00:00');
  });

  it('sorts as text in instant order, across the day and year boundaries', () => {
    const instants = [Date.UTC(2025, 11, 31, 23, 59, 59), Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 0, 0, 1)];
    const texts = instants.map(toDbTime);
    expect([...texts].sort()).toEqual(texts);
  });

  it('matches what SQLite writes for the same instant', async () => {
    const { default: Database } = await import('libsql');
    const db = new Database(':memory:');
    const row = db.prepare("SELECT datetime(?, 'unixepoch') AS t").get(1_767_323_045) as { t: string };
    expect(toDbTime(1_767_323_045_000)).toBe(row.t);
    db.close();
  });

  it('parses its own text back to the same instant (second precision)', () => {
    const at = Date.UTC(2026, 5, 30, 12, 0, 7);
    expect(parseDbTime(toDbTime(at))).toBe(at);
  });

  it('reads DB text as UTC, honours an explicit zone without doubling it, and gives NaN for nothing', () => {
    expect(parseDbTime('2026-01-02 03:04:05')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDbTime('2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDbTime('2026-01-02T05:04:05+02:00')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseDbTime(null)).toBeNaN();
    expect(parseDbTime('')).toBeNaN();
    expect(parseDbTime('not a time')).toBeNaN();
  });

  it('is what plugins get as sqlTime', () => {
    expect(sqlTime(new Date(Date.UTC(2026, 2, 4, 5, 6, 7)))).toBe('2026-03-04 05:06:07');
  });
});
