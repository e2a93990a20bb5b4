/**
 * The connector contract (DESIGN.md): one file per provider type, registered by type. Connectors
 * never touch the store; the dispatcher hands them a decrypted, validated config and a fetch that
 * passes the outbound-URL guard.
 */
import type { z } from 'zod'
import type { Logger } from '../lib/log'
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
export type GuardedFetch = (url: string, init?: RequestInit & { timeoutMs?: number; maxResponseBytes?: number }) => Promise<Response>

/** Set on a guarded fetch's response whose body was cut at the size limit. */
export const TRUNCATED_HEADER = 'x-omnigate-truncated'

export interface ConnectorContext<C = Record<string, unknown>> {
  config: C
  fetch: GuardedFetch
  /** `omnigate/<version>` */
  userAgent: string
  /** Aborted when the dispatcher gives up on the attempt: pass it to every request. */
  signal?: AbortSignal
  /** Where the provider should send status reports: `server.public_url` + `/inbound/{channel_id}`. */
  callbackUrl?: string
  /**
   * For sends: the gateway's one-click unsubscribe link for a recipient of this channel
   * (`server.public_url` + `/unsubscribe/{token}`, RFC 8058). The token is sealed with the master
   * key, so it can be neither forged nor read; opening it suppresses the recipient.
   */
  unsubscribeUrl?: (recipient: string) => string
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

/** What a message asks of a channel, checked when the message is accepted. */
export interface OutboundDraft {
  to: string | Record<string, unknown>
  from: string | null
  content: MessageContent
  options: Record<string, unknown>
}

/** A problem with a draft, `field` relative to the message (`to`, `content.html`). */
export type DraftProblem = { field: string; message: string }

/** A message a provider delivered to one of the namespace's terminals. */
export interface InboundMessage {
  from: string
  /** The terminal address it was sent to; the channel's default terminal when absent. */
  to?: string
  content: MessageContent
  providerMessageId?: string
  metadata?: Record<string, string>
}

/** A provider's report on an outbound message it accepted earlier. */
export interface StatusUpdate {
  providerMessageId: string
  status: 'sent' | 'delivered' | 'read' | 'failed'
  errorCode?: string
  errorMessage?: string
  /** When the provider says it happened (ms); now when absent. */
  at?: number
  /** A hard bounce or complaint: the recipient goes on the namespace's suppression list. */
  suppress?: { recipient: string; reason: 'bounce' | 'complaint' }
}

/** What one provider callback amounts to, and what to answer it. */
export interface InboundResult {
  /** The answer the provider expects (a challenge echo, TwiML, 200 OK). */
  response: Response
  messages?: InboundMessage[]
  statuses?: StatusUpdate[]
}

/** A callback refused: bad signature (403), malformed (400). Rendered as problem+json. */
export class InboundError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415,
    message: string,
  ) {
    super(message)
    this.name = 'InboundError'
  }
}

export interface InboundContext<C = Record<string, unknown>> extends ConnectorContext<C> {
  channel: { id: string; name: string; type: string }
  /** The URL the provider was told to call: `server.public_url` + `/inbound/{channel_id}`. */
  callbackUrl: string
  /** The terminal addresses the channel owns. */
  terminals: string[]
  /** The gateway's logger, for long-lived listeners (never log secrets). */
  log?: Logger
}

/** A long-lived inbound source of one channel (Telegram long polling). */
export interface Listener {
  stop(): Promise<void>
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
  /**
   * Fills in what a new config may leave out (generated keys, defaults that need work) after the
   * schema accepted it. Runs on create and on a config replace.
   */
  prepareConfig?(config: C, previous?: C): Promise<C> | C
  /**
   * Checks a new config against the network rules (an SMTP host through the outbound-URL guard)
   * when it is created or replaced; problems are relative to the config (`host`).
   */
  verifyConfig?(config: C, fetch: GuardedFetch): Promise<DraftProblem[]>
  /** What the channel cannot carry (html on SMS, a non-E.164 number): a 422 at the API. */
  checkDraft?(draft: OutboundDraft): DraftProblem[]
  send(msg: OutboundMessage, ctx: ConnectorContext<C>): Promise<SendResult>
  health?(ctx: ConnectorContext<C>): Promise<Health>
  /**
   * A provider callback to `/inbound/{channel_id}` (POST, or GET for a verification
   * handshake): verify it (throw InboundError), and say what it means.
   */
  parseInbound?(req: Request, ctx: InboundContext<C>): Promise<InboundResult>
  /**
   * Starts pulling inbound traffic for one channel when its config asks for it (long polling);
   * returns null when the channel receives by callback instead.
   */
  listen?(ctx: InboundContext<C>, deliver: (result: Omit<InboundResult, 'response'>) => Promise<void>): Listener | null
  /** Closes what the connector keeps open between sends (pooled SMTP connections); called when the dispatcher stops. */
  close?(): Promise<void>
}
