import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { AVAILABILITY, OperatorService } from './service.js';
import { CreateOperator, Operator, OperatorIdParams, SetAvailability, UpdateOperator } from './schema.js';

const tags = ['Operators'];

/** The people roster (spec 01 §2.7). */
export function operatorRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const ops = new OperatorService(app);

  defineRoute(
    r,
    { method: 'get', path: '/operators', tags, summary: 'The roster', access: 'any', response: z.array(Operator) },
    (c) => ops.list(principalOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/operators/:id',
      tags,
      summary: 'One operator',
      access: 'any',
      params: OperatorIdParams,
      response: Operator,
      errors: [404],
    },
    (c, { params }) => ops.get(principalOf(c), params.id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/operators',
      tags,
      summary: 'Add an operator',
      access: 'admin',
      body: CreateOperator,
      lazyBody: true,
      response: Operator,
      errors: [409],
    },
    (c, input) => {
      const body = bodyOf(c);
      if (!body.id || !body.display_name) throw badRequest('id and display_name required');
      return ops.create(principalOf(c), input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/operators/:id/availability',
      tags,
      summary: 'Set availability (one’s own; admins anyone’s)',
      access: 'human',
      params: OperatorIdParams,
      body: SetAvailability,
      lazyBody: true,
      response: Operator,
      errors: [403, 404],
    },
    (c, input) => {
      const body = bodyOf(c);
      if (typeof body.availability !== 'string' || !(AVAILABILITY as readonly string[]).includes(body.availability)) {
        throw badRequest('availability must be available, away, or sleeping');
      }
      const { availability, message } = input.body;
      return ops.setAvailability(principalOf(c), input.params.id, availability, message ?? '');
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/operators/:id',
      tags,
      summary: 'Update an operator',
      access: 'admin',
      params: OperatorIdParams,
      body: UpdateOperator,
      response: Operator,
      errors: [404, 409],
    },
    (c, { params, body }) => ops.update(principalOf(c), params.id, body),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/operators/:id',
      tags,
      summary: 'Remove an operator',
      access: 'admin',
      params: OperatorIdParams,
      response: OkTrue,
      errors: [404],
    },
    (c, { params }) => ops.remove(principalOf(c), params.id),
  );

  return r;
}
