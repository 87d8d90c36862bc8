import { SignJWT, jwtVerify } from 'jose';

/** Operator session tokens: HS256 only, 7 days, carrying the user's token version (revocation). */
const JWT_TTL_SECONDS = 7 * 24 * 60 * 60;

export interface OperatorClaims {
  studioUser: true;
  userId: number;
  username: string;
  displayName: string;
  role: string;
  /** studio_users.token_version at issue time; a bump revokes every older token. */
  tv: number;
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signOperatorToken(secret: string, claims: OperatorClaims, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + JWT_TTL_SECONDS)
    .sign(key(secret));
}

/** Verified claims, or null for anything not a valid, unexpired HS256 operator token. */
export async function verifyOperatorToken(secret: string, token: string, now: Date): Promise<OperatorClaims | null> {
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      currentDate: now,
    });
    if (payload.studioUser !== true || typeof payload.userId !== 'number') return null;
    return {
      studioUser: true,
      userId: payload.userId,
      username: String(payload.username ?? ''),
      displayName: String(payload.displayName ?? ''),
      role: String(payload.role ?? ''),
      tv: typeof payload.tv === 'number' ? payload.tv : 0,
    };
  } catch {
    return null;
  }
}
