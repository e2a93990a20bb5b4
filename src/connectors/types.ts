/**
 * The connector contract (DESIGN.md): one file per provider type, registered by type. Connectors
 * never touch the store; the dispatcher hands them a decrypted, validated config and a fetch that
 * passes the outbound-URL guard.
 */
import type { z } from 'zod'
import type { MessageContent } from '../store/schema'

export type Capability = 'send' | 'receive' | 'status-callback' | 'media' | 'templates' | 'bulk' | 'health'

/** transient: retry with backoff; permanent: fail now; rate-limited: retry after the hint. */
export type ErrorClass = 'transient' | 'permanent' | 'rate-limited'

/** A classified failure from a provider. Anything else a connector throws counts as transient. */
export class ConnectorError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    /** Stable short code: the provider's error code, or e.g. `http_503`, `timeout`. */
    readonly code: string,
    message: string,
    /** For rate-limited errors: the provider's hint (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'ConnectorError'
  }
}

export interface OutboundMessage {
  id: string
  namespace: string
  channel: { id: string; name: string; type: string }
  /** The terminal's address, or null when the channel has none. */
  from: string | null
  /** A string address, or an object recipient (a web push subscription). */
  to: string | Record<string, unknown>
  content: MessageContent
  metadata: Record<string, string>
  options: Record<string, unknown>
  createdAt: number
  /** 1 for the first attempt. */
  attempt: number
}

/** fetch that refuses URLs the outbound-URL guard refuses (see src/lib/url-guard.ts). */
export type GuardedFetch = (url: string, init?: RequestInit & { timeoutMs?: number }) => Promise<Response>

export interface ConnectorContext<C = Record<string, unknown>> {
  config: C
  fetch: GuardedFetch
  /** `omnigate/<version>` */
  userAgent: string
  /** Aborted when the dispatcher gives up on the attempt: pass it to every request. */
  signal?: AbortSignal
}

export interface SendResult {
  providerMessageId?: string
  /** What the provider confirmed: usually `sent`; the sandbox can report delivery at once. */
  status: 'sent' | 'delivered' | 'read'
}

export interface Health {
  ok: boolean
  detail?: string
}

export interface Connector<C = any> {
  type: string
  capabilities: Capability[]
  /** Validates a channel's config (credentials and settings) on create and update. */
  configSchema: z.ZodType<C>
  /** Config keys whose values are secret: masked in every response. */
  secretKeys: string[]
  /** Config keys holding URLs: checked by the outbound-URL guard on create, shown as their origin only. */
  urlKeys?: string[]
  /** Validates `options[type]` of a message when it is accepted, so bad extras fail with a 422. */
  optionsSchema?: z.ZodType
  send(msg: OutboundMessage, ctx: ConnectorContext<C>): Promise<SendResult>
  health?(ctx: ConnectorContext<C>): Promise<Health>
}
