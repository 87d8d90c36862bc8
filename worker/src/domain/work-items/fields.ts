import { z } from 'zod';
import { queryInt } from '../../http/contract.js';
import { MAX_OFFSET } from '../../http/validate.js';

/** Request field shapes shared by the work-item areas (tasks, plans, bugs). */
export const fields = {
  title: z.string().trim().min(1).max(500),
  description: z.string().max(50_000),
  projectId: z.string().trim().max(200),
  /** Free-text identity-like values (assignee, owner): bounded, never coerced. */
  who: z.string().max(200),
  tags: z.array(z.string().max(100)).max(100),
  flag: z.custom<boolean | 0 | 1>((v) => typeof v === 'boolean' || v === 0 || v === 1, {
    message: 'must be true or false',
  }),
  url: z.string().max(2000),
  content: z.string().trim().min(1).max(100_000),
  /** A claim's fencing token, quoted back on writes (./lease.ts). */
  leaseToken: z.string().min(1).max(100),
};

/**
 * `limit` (default 50, at most 500; below 1 means the default) and `offset` (0..MAX_OFFSET) as the
 * spec's parseLimit, but never NaN into SQL and never past what SQLite binds as an integer.
 * Spread into a route's query schema.
 */
export const pageQuery = {
  limit: queryInt(50, Number.MIN_SAFE_INTEGER, 500).transform((l) => (l < 1 ? 50 : l)),
  offset: queryInt(0, 0, MAX_OFFSET),
};
