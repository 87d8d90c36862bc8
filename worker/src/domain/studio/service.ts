import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { hashPassword, verifyPassword, getDummyHash, passwordProblem } from '../../auth/passwords.js';
import { signOperatorToken } from '../../auth/jwt.js';
import { randomHex, sha256Hex } from '../../auth/crypto.js';
import { AppError, badRequest, conflict, notFound, unauthorized } from '../../http/errors.js';
import { escapeHtml } from '../../http/html.js';
import { atomicWrite } from '../events/write.js';
import { passwordResetsRepo, studioUsersRepo, toPublicUser, type StudioUserRow } from './repo.js';

/** Roles a studio user may hold; only `admin` is privileged (spec 07 SEC-10). */
export const STUDIO_ROLES = ['admin', 'operator', 'member'] as const;
const RESET_TOKEN_TTL_MS = 30 * 60_000;
const GENERIC_FORGOT = 'If that email is associated with an account, a reset link has been sent.';

export class StudioService {
  constructor(private readonly app: AppContext) {}

  /** argon2id off the request thread where the runtime offers it (Node: a worker pool). */
  private get derive() {
    return this.app.runtime.argon2id;
  }

  async login(username: string, password: string) {
    const user = await studioUsersRepo.byUsername(this.app.db, username.trim().toLowerCase());
    // Unknown users cost the same argon2 work as known ones (no enumeration by timing, SEC-08).
    const ok = await verifyPassword(password, user?.password_hash ?? (await getDummyHash()), this.derive);
    if (!user || !ok) throw unauthorized('Invalid username or password');
    const token = await this.issueToken(user);
    return { token, user: { id: user.id, username: user.username, display_name: user.display_name, role: user.role } };
  }

  issueToken(user: StudioUserRow) {
    return signOperatorToken(
      this.app.config.jwtSecret,
      {
        studioUser: true,
        userId: user.id,
        username: user.username,
        displayName: user.display_name,
        role: user.role,
        tv: user.token_version,
      },
      this.app.clock.now(),
    );
  }

  async me(p: Principal) {
    if (p.kind === 'admin') return { id: 0, username: 'admin', display_name: 'Admin', role: 'admin' };
    if (p.kind !== 'operator') throw unauthorized('Not authenticated');
    const u = await studioUsersRepo.byId(this.app.db, p.userId);
    if (!u) throw unauthorized('User not found');
    return { id: u.id, username: u.username, display_name: u.display_name, role: u.role, created_at: u.created_at };
  }

  async create(input: { username: string; password: string; display_name: string; role: string }, actor: Principal) {
    const problem = passwordProblem(input.password);
    if (problem) throw badRequest(problem);
    const username = input.username.trim().toLowerCase();
    const insert = studioUsersRepo.insert({
      username,
      display_name: input.display_name,
      password_hash: await hashPassword(input.password, this.derive),
      role: input.role,
    });
    const res = await atomicWrite(this.app)
      .add('user', insert)
      .requireChanged('username taken')
      .eventWithNewId(
        {
          type: 'user_created',
          agent: actor.who,
          summary: `Studio user created: ${input.display_name} (${username})`,
          data: { user_id: 0, role: input.role },
        },
        'user_id',
      )
      .commitUnlessAborted();
    const row = res?.row<StudioUserRow>('user');
    if (!row) throw conflict('Username already taken');
    return { id: row.id, username: row.username, display_name: row.display_name, role: row.role };
  }

  async list() {
    return (await studioUsersRepo.list(this.app.db)).map(toPublicUser);
  }

  async update(id: number, fields: { role?: string; display_name?: string }) {
    if (fields.role === undefined && fields.display_name === undefined) throw badRequest('No fields to update');
    const u = studioUsersRepo.update(id, fields);
    const row = await this.app.db.get<StudioUserRow>(u.sql, u.args);
    if (!row) throw notFound('User not found');
    return { ok: true, id: row.id, username: row.username, ...fields };
  }

  async setPassword(id: number, password: string) {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    const user = await studioUsersRepo.byId(this.app.db, id);
    if (!user) throw notFound('User not found');
    await this.app.db.batch([studioUsersRepo.setPassword(id, await hashPassword(password, this.derive))]);
    return { ok: true, username: user.username };
  }

  /** Self-service change: proves the current password; issues a fresh token (old ones are revoked). */
  async changeOwnPassword(p: Principal, current: string, next: string) {
    if (p.kind !== 'operator') throw badRequest('Only operator accounts have a password to change');
    const user = await studioUsersRepo.byId(this.app.db, p.userId);
    if (!user) throw unauthorized('User not found');
    if (!(await verifyPassword(current, user.password_hash, this.derive)))
      throw new AppError(403, 'Current password is incorrect');
    const problem = passwordProblem(next);
    if (problem) throw badRequest(problem);
    await this.app.db.batch([studioUsersRepo.setPassword(user.id, await hashPassword(next, this.derive))]);
    const fresh = await studioUsersRepo.byId(this.app.db, user.id);
    return { ok: true, token: await this.issueToken(fresh!) };
  }

  async remove(id: number) {
    const user = await studioUsersRepo.byId(this.app.db, id);
    if (!user) throw notFound('User not found');
    // Unlink roster rows first so the delete never fails on the foreign key (weak spot 6).
    await this.app.db.batch([studioUsersRepo.unlinkOperators(id), studioUsersRepo.delete(id)]);
    return { ok: true, deleted: user.username };
  }

  /** Always the same answer; a token is stored and mailed only for an active operator with a login. */
  async forgotPassword(email: string, baseUrl: string) {
    const db = this.app.db;
    const match = await db.get<{ username: string; display_name: string }>(
      `SELECT u.username, u.display_name FROM operators o JOIN studio_users u ON u.id = o.studio_user_id
       WHERE lower(o.email) = ? AND o.status = 'active' LIMIT 1`,
      [email],
    );
    if (match) {
      const token = randomHex(32);
      const expires = this.app.clock.now().getTime() + RESET_TOKEN_TTL_MS;
      // A new token replaces any outstanding one for the address.
      await db.batch([
        passwordResetsRepo.invalidateForEmail(email),
        passwordResetsRepo.insert(email, await sha256Hex(token), expires),
      ]);
      const link = `${baseUrl}${this.app.config.passwordResetPath}?token=${token}`;
      const send = this.app.email.send({
        to: email,
        subject: 'Reset your Mycelium password',
        text: `Hello ${match.display_name},\n\nReset your password here: ${link}\nThis link expires in 30 minutes.`,
        html: `<p>Hello ${escapeHtml(match.display_name)},</p><p><a href="${escapeHtml(link)}">Reset your password</a>. This link expires in 30 minutes.</p>`,
      });
      this.app.runtime.waitUntil(send);
    }
    return { ok: true, message: GENERIC_FORGOT };
  }

  async resetPassword(token: string, password: string) {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    const db = this.app.db;
    const now = this.app.clock.now().getTime();
    const pending = await passwordResetsRepo.pending(db, await sha256Hex(token), now);
    if (!pending) throw badRequest('Invalid or expired reset token');
    const user = await studioUsersRepo.byOperatorEmail(db, pending.email);
    if (!user) throw badRequest('Account not found');
    const hash = await hashPassword(password, this.derive);
    // The token is consumed by the same batch that sets the password and records the event: of two
    // concurrent resets one wins (SEC-09), and a lost one writes nothing.
    const res = await atomicWrite(this.app)
      .add(null, passwordResetsRepo.consume(pending.id, now))
      .requireChanged('token used')
      .add(null, studioUsersRepo.setPassword(user.id, hash))
      .add(null, passwordResetsRepo.invalidateForEmail(pending.email))
      .event({
        type: 'password_reset',
        agent: '__system__',
        summary: `Password reset for ${user.display_name} (${user.username})`,
      })
      .commitUnlessAborted();
    if (!res) throw badRequest('Invalid or expired reset token');
    return { ok: true, message: 'Password has been reset. You can now log in.' };
  }
}
