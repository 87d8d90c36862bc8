import type { Principal } from './auth/principal.js';

/**
 * Pre-mutation checks. Core services call `ctx.guards.check(action, subject, principal)` BEFORE
 * they write (e.g. 'task.create'); registered checkers (the guardrails plugin) may throw an
 * AppError (403) to block. With no checker registered this is a no-op, so the core never
 * depends on any plugin. Checkers run in registration order; the first throw wins.
 */
export interface GuardCheck {
  action: string;
  subject: Record<string, unknown>;
  principal: Principal;
}

export type GuardChecker = (check: GuardCheck) => Promise<void> | void;

export class Guards {
  private readonly checkers: { owner: string; fn: GuardChecker }[] = [];

  register(owner: string, fn: GuardChecker): () => void {
    const entry = { owner, fn };
    this.checkers.push(entry);
    return () => {
      const i = this.checkers.indexOf(entry);
      if (i >= 0) this.checkers.splice(i, 1);
    };
  }

  async check(action: string, subject: Record<string, unknown>, principal: Principal): Promise<void> {
    for (const { fn } of this.checkers) await fn({ action, subject, principal });
  }

  get size(): number {
    return this.checkers.length;
  }
}
