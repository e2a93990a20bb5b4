import type { Config } from '../config'
import type { GuardedFetch } from '../connectors/types'
import type { SecretBox } from '../lib/secrets'
import type { Store } from '../store/store'

/** Tunables the domain needs, taken from the config once at start-up. */
export interface DomainLimits {
  maxAttachmentBytes: number
  maxBatch: number
  allowPrivateNetwork: boolean
  tokenAlg: 'ES256' | 'EdDSA'
  accessTokenTtlSeconds: number
  sessionTtlHours: number
  /** 0 = no limit. */
  namespaceRequestsPerSecond: number
  applicationRequestsPerSecond: number
  messagesPerDay: number
  messagesPerMonth: number
  loginAttemptsPerMinute: number
}

/** The instance's own outgoing mail (password resets, invitations). */
export interface Mailer {
  send(mail: { to: string; subject: string; text: string; html?: string }): Promise<void>
}

/**
 * What every domain function receives first: the store plus the few process-wide services the
 * domain needs (DESIGN.md says `(store, namespaceId, input)`; see docs/decisions.md).
 */
export interface Deps {
  store: Store
  box: SecretBox
  limits: DomainLimits
  /** The whole validated, frozen config, for settings that have no field above (plans, retention, signup). */
  config: Config
  /** The base URL providers and clients reach this instance at (callback URLs). */
  publicUrl: string
  /** fetch through the outbound-URL guard, for connectors. */
  fetch: GuardedFetch
  now?: () => number
  /** Null when `[mail] smtp_url` is not set: features that need mail say so. */
  mailer?: Mailer | null
  /** Called after new work is committed, so the dispatcher need not wait for its next poll. */
  signalWork?: () => void
}

export const now = (deps: Pick<Deps, 'now'>): number => (deps.now ? deps.now() : Date.now())
