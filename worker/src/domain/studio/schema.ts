import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { STUDIO_ROLES } from './service.js';

/**
 * The wire shapes of operator accounts (spec 01 §2.6). A user's password hash and token version
 * never leave the server.
 */

export const UserIdParams = z.object({ id: idParam });

const role = z.enum(STUDIO_ROLES);
export const CreateUser = z.object({
  username: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._@-]+$/, 'may contain only letters, digits, ".", "_", "@" and "-"'),
  password: z.string(),
  display_name: z.string().trim().min(1).max(200),
  role: role.default('operator'),
});
export const UpdateUser = z.object({
  role: role.optional(),
  display_name: z.string().trim().min(1).max(200).optional(),
});

export const LoginBody = z.looseObject({
  username: documented({ type: 'string' }),
  password: documented({ type: 'string', format: 'password' }),
});
export const ChangeOwnPassword = z.looseObject({
  current_password: documented({ type: 'string', format: 'password' }),
  new_password: documented({ type: 'string', format: 'password' }),
});
export const SetPassword = z.looseObject({ password: documented({ type: 'string', format: 'password' }) });
export const ForgotPassword = z.looseObject({ email: documented({ type: 'string', format: 'email' }) });
export const ResetPassword = z.looseObject({
  token: documented({ type: 'string' }),
  password: documented({ type: 'string', format: 'password' }),
});

const userFields = { id: z.number().int(), username: z.string(), display_name: z.string(), role: z.string() };
export const StudioUser = z
  .object({ ...userFields, created_at: z.string(), last_seen: z.string().nullable() })
  .meta({ id: 'StudioUser' });

export const LoggedIn = z.object({ token: z.string(), user: z.object(userFields) });
export const Me = z.object({ ...userFields, created_at: z.string().optional() });
export const UserCreated = z.object(userFields);
export const UserUpdated = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  username: z.string(),
  role: z.string().optional(),
  display_name: z.string().optional(),
});
export const PasswordSet = z.object({ ok: z.literal(true), username: z.string() });
export const PasswordChanged = z.object({
  ok: z.literal(true),
  token: z.string().meta({ description: 'A fresh token' }),
});
export const UserDeleted = z.object({ ok: z.literal(true), deleted: z.string() });
export const Message = z.object({ ok: z.literal(true), message: z.string() });
