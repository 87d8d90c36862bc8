/**
 * The one error type. Services throw it; the error middleware turns it into
 * `{ "error": message, ...extra }` with its status. Anything else becomes a logged 500.
 */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 500 | 502 | 503,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    // Messages often quote what the client sent; a rejected value is never echoed in full (SEC-54).
    super(message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}…` : message);
  }
}

const MAX_MESSAGE_CHARS = 500;
const MAX_EXCERPT_CHARS = 100;

/**
 * A short quotation of a client-sent value for an error answer: strings and JSON longer than
 * 100 characters are cut (with "…"), so a 1 MB rejected value is never sent back.
 */
function excerpt(value: unknown): unknown {
  if (typeof value === 'string')
    return value.length > MAX_EXCERPT_CHARS ? `${value.slice(0, MAX_EXCERPT_CHARS)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return '[unprintable]';
  }
  return text.length > MAX_EXCERPT_CHARS ? `${text.slice(0, MAX_EXCERPT_CHARS)}…` : value;
}

export const badRequest = (msg: string, extra?: Record<string, unknown>) => new AppError(400, msg, extra);
export const unauthorized = (msg: string) => new AppError(401, msg);
export const forbidden = (msg: string, extra?: Record<string, unknown>) => new AppError(403, msg, extra);
export const notFound = (msg: string) => new AppError(404, msg);
export const conflict = (msg: string, extra?: Record<string, unknown>) => new AppError(409, msg, extra);
export const unavailable = (msg: string) => new AppError(503, msg);

export function tooManyRequests(retryAfterSeconds: number, msg?: string): AppError {
  return new AppError(
    429,
    msg ?? `Too many attempts. Try again in ${retryAfterSeconds} seconds.`,
    {},
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** Enum violation in the spec's machine-readable shape. */
export function invalidEnum(field: string, value: unknown, allowed: readonly string[]): AppError {
  return new AppError(400, `${field} must be one of: ${allowed.join(', ')}`, {
    code: 'invalid_enum',
    field,
    value: excerpt(value),
    allowed,
  });
}
