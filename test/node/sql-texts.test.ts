import { describe, expect, it } from 'vitest';
import { SqlTexts, SqlTextsByParts } from '../../worker/src/db/sql-texts.js';

describe('SQL texts built once per shape (worker/src/db/sql-texts.ts, issue 11)', () => {
  it('SqlTexts builds a key once; past its bound it starts over', () => {
    const t = new SqlTexts(2);
    let built = 0;
    const get = (k: string) => t.get(k, () => `SELECT ${k} /* ${++built} */`);
    expect(get('a')).toBe('SELECT a /* 1 */');
    expect(get('a')).toBe('SELECT a /* 1 */');
    expect(get('b')).toBe('SELECT b /* 2 */');
    expect(get('c')).toBe('SELECT c /* 3 */'); // the bound: the cache started over
    expect(get('a')).toBe('SELECT a /* 4 */');
    expect(built).toBe(4);
  });

  it('SqlTextsByParts keys by each part (strings or objects), in order; past its bound it starts over', () => {
    const t = new SqlTextsByParts(3);
    let built = 0;
    const cols = ['id', 'status'];
    const sameContent = ['id', 'status'];
    const get = (parts: unknown[]) => t.get(parts, () => `text ${++built}`);
    expect(get([cols, 'x', 'SELECT 1'])).toBe('text 1');
    expect(get([cols, 'x', 'SELECT 1'])).toBe('text 1');
    // An array is its own key (a module constant), not its content.
    expect(get([sameContent, 'x', 'SELECT 1'])).toBe('text 2');
    // Order and length matter: no two lists share a text.
    expect(get([cols, 'SELECT 1', 'x'])).toBe('text 3');
    expect(get([cols, 'x'])).toBe('text 4'); // the fourth text: the cache started over with it
    expect(get([cols, 'x', 'SELECT 1'])).toBe('text 5');
    expect(get([cols, 'x'])).toBe('text 4');
    expect(built).toBe(5);
  });
});
