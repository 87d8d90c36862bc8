import { atomicWrite } from '../events/write.js';
import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { configRepo } from '../config/repo.js';
import { setSleep, sleepOverview } from './sleep.js';
import { OverrideAnswer, OverrideBody, SleepBody, SleepOverview, SleepSet } from './schema.js';

const tags = ['Admin'];

/** Kill switch and sleep mode (spec 01 §5.2–5.3, 02 §3.8, README "The kill switch"). */
export function adminControlRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  // Any human operator may freeze; only admins may unfreeze (spec README, SEC-49).
  defineRoute(
    r,
    {
      method: 'put',
      path: '/admin/override',
      tags,
      summary: 'The kill switch: freeze (any operator) or unfreeze (admins) all work assignment',
      access: 'human',
      body: OverrideBody,
      response: OverrideAnswer,
      errors: [429],
    },
    async (c) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      const p = principalOf(c);
      const action = bodyOf(c).action ?? 'freeze';
      if (action !== 'freeze' && action !== 'unfreeze') throw badRequest('action must be freeze or unfreeze');
      if (action === 'unfreeze' && !p.isAdmin) throw forbidden('Admin role required');
      const who = p.who;
      const frozen = action === 'freeze';
      const ev = frozen
        ? { type: 'admin_frozen', agent: who, summary: `${who} froze Claude Admin` }
        : { type: 'admin_unfrozen', agent: who, summary: `${who} unfroze Claude Admin` };
      await atomicWrite(app)
        .add(null, configRepo.upsert('admin_status', frozen ? 'frozen' : 'coordinator', who))
        .event(ev)
        .commit();
      return frozen
        ? { ok: true, admin_status: 'frozen', message: 'Claude Admin frozen. All work assignments paused.' }
        : { ok: true, admin_status: 'coordinator', message: 'Claude Admin unfrozen. Resuming operations.' };
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/admin/sleep',
      tags,
      summary: 'Sleep mode on or off',
      access: 'admin',
      body: SleepBody,
      response: SleepSet,
      errors: [429],
    },
    (c) => {
      // Rate-limited like the other admin writes (spec 02 W42).
      app.limiters.adminWrite.hit(c.get('clientIp'));
      return setSleep(app, principalOf(c), bodyOf(c));
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/sleep',
      tags,
      summary: 'Sleep state, autonomy and the sleep log',
      access: 'any',
      response: SleepOverview,
    },
    () => sleepOverview(app),
  );

  return r;
}
