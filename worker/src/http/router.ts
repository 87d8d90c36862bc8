import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';

/** Distinct method + path pairs remembered; past this the memory starts over (a flood of unique paths only empties it). */
export const REMEMBERED = 2_000;

/**
 * Hono's TrieRouter, remembering its answer for each method and path it has seen (issue 11).
 *
 * Why not Hono's default: SmartRouter tries RegExpRouter first, which refuses a literal segment
 * beside a parameter at the same place (`/agents/profiles` and `/agents/:id/skills`), so it falls
 * back to TrieRouter anyway. TrieRouter walks its tree of ~700 routes on every request and builds
 * fresh arrays for the answer (~2.5 % of the bytes a heartbeat allocated in a sampling heap profile
 * of bench/in-process.ts). Agents call the same few paths over and over (their own id in them), so the answer
 * for a path is looked up once. Answers never change once the app is built (`add` forgets them all)
 * and Hono only reads them (HonoRequest takes params from them, decoding a copy).
 */
export class RememberingRouter<T> implements Router<T> {
  readonly name = 'RememberingRouter';
  private readonly trie = new TrieRouter<T>();
  private readonly answers = new Map<string, Result<T>>();

  /** Answers held now (tests: the memory stays bounded). */
  get remembered(): number {
    return this.answers.size;
  }

  add(method: string, path: string, handler: T): void {
    this.answers.clear();
    this.trie.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    const key = `${method} ${path}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = this.trie.match(method, path);
      if (this.answers.size >= REMEMBERED) this.answers.clear();
      this.answers.set(key, answer);
    }
    return answer;
  }
}
