import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { TeamSettingsService } from './service.js';
import {
  AllSettings,
  PutSetting,
  SectionParams,
  SectionSettings,
  SettingParams,
  SettingWritten,
  Synced,
} from './schema.js';

const keyOk = (k: string) => {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(k))
    throw badRequest('key may contain only letters, digits, "_", "." and "-" (max 100)');
  return k;
};
const tags = ['Team settings'];

/** Team settings (spec 01 §2.9), all admin. */
export function teamSettingsRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const settings = new TeamSettingsService(app);

  defineRoute(
    r,
    { method: 'get', path: '/team-settings', tags, summary: 'Every section', access: 'admin', response: AllSettings },
    () => settings.all(),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/team-settings/sync',
      tags,
      summary: 'Rebuild the customer-agent profile from the settings',
      access: 'admin',
      response: Synced,
    },
    () => settings.sync(),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/team-settings/:section',
      tags,
      summary: 'One section (empty when unknown)',
      access: 'admin',
      params: SectionParams,
      response: SectionSettings,
    },
    (_c, { params }) => settings.section(params.section),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/team-settings/:section/:key',
      tags,
      summary: 'Set one setting',
      access: 'admin',
      params: SettingParams,
      body: PutSetting,
      response: SettingWritten,
    },
    (c, { params }) => {
      const body = bodyOf(c);
      if (body.value === undefined || body.value === null) throw badRequest('value is required');
      const raw = JSON.stringify(body.value);
      if (raw.length > 100_000) throw badRequest('value exceeds max length (100000 chars)');
      return settings.put(principalOf(c), params.section, keyOk(params.key), body.value);
    },
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/team-settings/:section/:key',
      tags,
      summary: 'Delete one setting',
      access: 'admin',
      params: SettingParams,
      response: OkTrue,
    },
    (c, { params }) => settings.remove(principalOf(c), params.section, params.key),
  );

  return r;
}
