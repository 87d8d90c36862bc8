import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Issue 17: work-item writes record their events in the same batch (`ctx.events.statement…` +
 * `publishWritten`). `events.emit()` persists in a separate write, so in these areas it would bring
 * back the "row committed, event lost" gap; test/api/leases.test.ts proves the batches behaviourally.
 */
const AREAS = ['tasks', 'bugs', 'plans', 'work', 'dispatch', 'work-items'];

describe('events are atomic with work-item writes (issue 17)', () => {
  it('no work-item area emits an event in a write of its own', () => {
    const offenders: string[] = [];
    for (const area of AREAS) {
      const dir = join('worker/src/domain', area);
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
        const lines = readFileSync(join(dir, f), 'utf8').split('\n');
        lines.forEach((line, i) => {
          if (/events\.emit\(/.test(line)) offenders.push(`${dir}/${f}:${i + 1}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });
});
