import type { Logger } from '../../infra/logger.js';
import type { Notification } from './messages.js';

/**
 * How a notification leaves the platform. An email or SMS provider (SES, Twilio…) implements
 * this; it receives a key that is the same on every retry of one message, to pass on as the
 * provider's idempotency key so a retried job does not send twice.
 */
export interface NotificationTransport {
  readonly name: string;
  send(message: Notification, idempotencyKey: string): Promise<void>;
}

/** The default: writes each message to the log (development, and until a provider is configured). */
export class LogTransport implements NotificationTransport {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}

  async send(message: Notification, idempotencyKey: string): Promise<void> {
    this.logger.info('notification', {
      channel: message.channel,
      to: message.to,
      subject: message.subject,
      body: message.body,
      idempotencyKey,
    });
  }
}
