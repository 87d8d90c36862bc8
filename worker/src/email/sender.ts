import type { Config } from '../config.js';
import type { Logger } from '../runtime.js';

export interface EmailMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
}

/**
 * Pluggable e-mail. With RESEND_KEY set, mail goes through Resend's HTTP API; without it, the
 * message is logged (recipient and subject only — never a token-bearing body) and dropped,
 * so callers behave the same either way. Sends never throw into the request.
 */
export interface EmailSender {
  readonly enabled: boolean;
  send(msg: EmailMessage): Promise<boolean>;
}

export function createEmailSender(config: Config, log: Logger, fetchImpl: typeof fetch = fetch): EmailSender {
  if (!config.resendKey) {
    return {
      enabled: false,
      async send(msg) {
        log.info('email disabled (RESEND_KEY not set); message dropped', { to: msg.to, subject: msg.subject });
        return false;
      },
    };
  }
  return {
    enabled: true,
    async send(msg) {
      try {
        const res = await fetchImpl(`${config.resendApiUrl.replace(/\/+$/, '')}/emails`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${config.resendKey}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            from: config.emailFrom,
            to: [msg.to],
            subject: msg.subject,
            html: msg.html,
            text: msg.text,
            ...(config.emailReplyTo ? { reply_to: config.emailReplyTo } : {}),
          }),
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) {
          log.warn('email send failed', { status: res.status, subject: msg.subject });
          return false;
        }
        return true;
      } catch (err) {
        log.warn('email send failed', { error: (err as Error).message, subject: msg.subject });
        return false;
      }
    },
  };
}
