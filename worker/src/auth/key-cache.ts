/**
 * Agent-key → identity cache (spec 02 §0): at most 1000 entries, 5-minute TTL, oldest evicted
 * first. Rotation, deletion and project/role changes invalidate, so a revoked key stops at once.
 */
export interface CachedAgent {
  id: string;
  projectId: string;
  role: string;
}

export class AgentKeyCache {
  private readonly entries = new Map<string, { agent: CachedAgent; expires: number }>();

  constructor(
    private readonly max = 1000,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(hash: string): CachedAgent | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.agent;
  }

  set(hash: string, agent: CachedAgent): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(hash, { agent, expires: this.now() + this.ttlMs });
  }

  /** Drops every cached key of one agent. */
  forgetAgent(agentId: string): void {
    for (const [h, e] of this.entries) if (e.agent.id === agentId) this.entries.delete(h);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
