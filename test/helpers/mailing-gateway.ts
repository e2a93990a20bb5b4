/**
 * A test gateway that mails through a local SMTP sink (sign-up, invitations, password resets),
 * with the text of the next mail an address gets.
 */
import { simpleParser } from 'mailparser'
import { setPasswordHashCost } from '../../src/domain/identity/users'
import { startSmtpSink, type SmtpSink } from '../fakes/smtp-server'
import { eventually, startTestGateway, type TestGateway } from './gateway'

export interface MailingGateway {
  gw: TestGateway
  sink: SmtpSink
  /** Subject and text of the first mail to `email` after the sink's first `after` mails. */
  mailTo(email: string, after: number): Promise<{ subject: string; text: string }>
  close(): Promise<void>
}

export async function startMailingGateway(overrides: Record<string, any> = {}): Promise<MailingGateway> {
  // Password hashing at test strength: these tests hash on every sign-up and change.
  setPasswordHashCost({ memoryCost: 1024, timeCost: 1 })
  const sink = await startSmtpSink()
  const gw = await startTestGateway({
    mail: { smtp_url: `smtp://127.0.0.1:${sink.port}`, from: 'omnigate <noreply@gw.test>' },
    limits: { login_attempts_per_minute: 1000 },
    ...overrides,
  })
  return {
    gw,
    sink,
    async mailTo(email, after) {
      const wire = await eventually(async () => sink.received.slice(after).find((m) => m.rcptTo.includes(email)))
      const parsed = await simpleParser(wire.raw)
      return { subject: parsed.subject ?? '', text: parsed.text ?? '' }
    },
    async close() {
      await gw.close()
      await sink.stop()
    },
  }
}
