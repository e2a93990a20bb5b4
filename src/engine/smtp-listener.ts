/**
 * The built-in SMTP listener for inbound e-mail (`[smtp]` in the config; off by default).
 * Not built yet: issue #4 adds it.
 */
import type { Config } from '../config'
import type { Deps } from '../domain/deps'
import type { Logger } from '../lib/log'

export interface SmtpListener {
  /** host:port it listens on */
  address: string
  stop(): Promise<void>
}

export async function startSmtpListener(_deps: Deps, _config: Config, _log: Logger): Promise<SmtpListener | null> {
  return null
}
