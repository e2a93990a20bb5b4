/**
 * The dispatcher: claims due outbound messages in batches with a lease, hands each to its
 * channel's connector, and records the outcome. Work that a crashed process held is claimed
 * again once its lease runs out; at shutdown, unfinished work is released at once.
 */
import { hostname } from 'node:os'
import { and, eq, sql } from 'drizzle-orm'
import { connectorTypes, getConnector } from '../connectors/registry'
import { ConnectorError, type OutboundMessage } from '../connectors/types'
import { openChannelConfig } from '../domain/channels'
import type { Deps } from '../domain/deps'
import { inboundUrl } from '../domain/inbound'
import { unsubscribeUrl } from '../domain/inbound/email'
import {
  type AttemptError,
  type AttemptOutcome,
  claimDueMessages,
  completeAttempt,
  completeSentAttempts,
  loadSendTarget,
  type SentCompletion,
} from '../domain/messages/dispatch'
import { appendEvents } from '../domain/messages/events'
import type { Message } from '../domain/messages/views'
import { parseRecipient } from '../domain/messages/views'
import { isSuppressed, suppressedAmong } from '../domain/suppressions'
import { deadlineSignal } from '../lib/deadline'
import type { Logger } from '../lib/log'
import { recordAttempt } from '../lib/metrics'
import { RatePacer } from '../lib/token-bucket'
import { TtlCache } from '../lib/ttl-cache'
import { messages } from '../store/schema'
import { type Store, WriteBatcher } from '../store/store'
import { USER_AGENT } from '../version'
import { backoffDelay } from './backoff'
import { type Claimed, ClaimLoop } from './claim-loop'

export interface DispatcherOptions {
  concurrency: number
  batchSize: number
  pollIntervalMs: number
  leaseMs: number
  maxAttempts: number
  maxAgeSeconds: number
  backoffBaseMs: number
  backoffMaxMs: number
  sendTimeoutMs: number
  shutdownTimeoutMs: number
}

/** A channel's decrypted config is reused for this long; an edit takes effect within it. */
const TARGET_CACHE_TTL_MS = 2000
/**
 * Longest a claimed message waits for its channel's next send slot while holding a worker;
 * one that would wait longer is handed back, due at its slot, so slow channels don't fill
 * every worker.
 */
const MAX_RATE_WAIT_MS = 1000

/** Not sent yet: the channel's send rate has no slot for it now; due again at `until`. */
type Deferral = { kind: 'deferred'; until: number }

type Target = NonNullable<Awaited<ReturnType<typeof loadSendTarget>>> & {
  config: Record<string, unknown>
  /** Why the sealed config could not be opened (a changed master key): every attempt fails with it. */
  configError?: unknown
}

export class Dispatcher {
  readonly owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
  private readonly targets = new TtlCache<Target | null>(TARGET_CACHE_TTL_MS)
  private readonly loop: ClaimLoop<Message>
  /** Per-channel send rate (`channels.rate_limit`), in this process. */
  private readonly sendRates = new RatePacer()
  private readonly maxRateWaitMs: number
  /**
   * Successes are recorded together with the others that finish before the write queue flushes
   * (one UPDATE and one INSERT for all: completeSentAttempts); if that write fails, each on its own.
   */
  private readonly sent: WriteBatcher<SentCompletion, boolean>
  /** The suppression list's answer for each claimed message, looked up with its batch. */
  private readonly suppression = new WeakMap<Message, string | null>()

  constructor(
    private readonly deps: Deps,
    private readonly opts: DispatcherOptions,
    private readonly log: Logger,
  ) {
    // The wait and the send must both fit in the lease, or another instance could claim the message.
    this.maxRateWaitMs = Math.max(0, Math.min(MAX_RATE_WAIT_MS, Math.floor((opts.leaseMs - opts.sendTimeoutMs) / 2)))
    this.sent = new WriteBatcher<SentCompletion, boolean>(
      deps.store,
      (tx, items) => completeSentAttempts(tx, this.owner, items),
      ({ message, outcome, at }) => completeAttempt(deps.store, this.owner, message, outcome, at),
    )
    const release = (message: Message) => completeAttempt(deps.store, this.owner, message, { kind: 'released' }, Date.now()).then(() => {})
    this.loop = new ClaimLoop<Message>(
      {
        name: 'dispatcher',
        concurrency: opts.concurrency,
        batchSize: opts.batchSize,
        pollIntervalMs: opts.pollIntervalMs,
        shutdownTimeoutMs: opts.shutdownTimeoutMs,
        claim: (limit) => this.claim(limit),
        process: (message, signal) => this.process(message, signal),
        release,
      },
      log,
    )
  }

  start(): void {
    this.loop.start()
  }

  /** Claim now rather than at the next poll (new work was just committed). */
  wake(): void {
    this.loop.wake()
  }

  /** Stops claiming, waits for in-flight sends up to the shutdown timeout, releases the rest. */
  async stop(): Promise<void> {
    await this.loop.stop()
    // Connections connectors keep open between sends (pooled SMTP) would hold the process up.
    await Promise.all(connectorTypes().map((type) => getConnector(type)?.close?.()))
  }

  get inFlightCount(): number {
    return this.loop.inFlightCount
  }

  private async claim(limit: number): Promise<Claimed<Message>> {
    const claimed = await claimDueMessages(this.deps.store, this.owner, limit, this.opts.leaseMs, Date.now())
    if (claimed.length > 0) await this.lookUpSuppressions(claimed)
    return { items: claimed }
  }

  /**
   * Looks the claimed batch's recipients up in the suppression list, one query per namespace
   * and channel type instead of one per send. Each attempt starts as soon as its claim returns,
   * so the answer is as fresh as a look just before the send. Never throws: the messages are
   * claimed, and any not looked up here are looked up one by one by their attempt.
   */
  private async lookUpSuppressions(claimed: readonly Message[]): Promise<void> {
    try {
      // Side by side, not one after another: on a remote libSQL server each look is a round trip.
      const types = new Map<string, string>()
      const oneOfEachChannel = new Map(claimed.map((m) => [m.channelId, m])).values()
      await Promise.all(
        [...oneOfEachChannel].map(async (m) => {
          const target = await this.target(m)
          if (target && !target.configError) types.set(m.channelId, target.channel.type)
        }),
      )
      const groups = Map.groupBy(
        claimed.filter((m) => types.has(m.channelId)),
        (m) => `${m.namespaceId}\n${types.get(m.channelId)}`,
      )
      await Promise.all(
        [...groups.values()].map(async (messages) => {
          const { namespaceId, channelId } = messages[0]!
          const found = await suppressedAmong(this.deps.store.read, namespaceId, types.get(channelId)!, messages.map((m) => m.recipient))
          for (const m of messages) this.suppression.set(m, found.get(m.recipient) ?? null)
        }),
      )
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.log.warn('suppression look-up for a claimed batch failed; checking each send on its own', { error: reason })
    }
  }

  private async target(message: Message): Promise<Target | null> {
    const hit = this.targets.get(message.channelId)
    if (hit !== undefined) return hit
    const row = await loadSendTarget(this.deps.store, message.namespaceId, message.channelId)
    let target: Target | null = null
    if (row) {
      try {
        target = { ...row, config: openChannelConfig(this.deps, row.channel) }
      } catch (error) {
        target = { ...row, config: {}, configError: new Error(`channel config cannot be decrypted: ${(error as Error).message}`) }
      }
    }
    this.targets.set(message.channelId, target)
    return target
  }

  private async process(message: Message, signal: AbortSignal): Promise<void> {
    let outcome: AttemptOutcome | Deferral
    try {
      outcome = await this.attempt(message, signal)
    } catch (error) {
      // Whatever broke before the provider answered (a config that no longer decrypts, a store
      // read) counts as a transient failure, so retry limits still apply and nothing sticks.
      outcome = this.classify(message, { maxAttempts: null, maxAgeSeconds: null }, error)
    }
    if (this.loop.released(signal)) return
    if (outcome.kind === 'deferred') {
      const rate = (await this.target(message))?.channel.rateLimit
      await deferMessage(this.deps.store, this.owner, message, outcome.until, `waiting for the channel's send rate (${rate}/s)`, Date.now())
      return
    }
    const recorded =
      outcome.kind === 'sent'
        ? await this.sent.add({ message, outcome, at: Date.now() })
        : await completeAttempt(this.deps.store, this.owner, message, outcome, Date.now())
    if (recorded) recordAttempt(message, outcome)
    if (!recorded) this.log.warn('lease lost before the attempt was recorded', { message_id: message.id })
    else if (outcome.kind === 'failed') {
      this.log.info('message failed', { message_id: message.id, code: outcome.error.code })
    }
  }

  private async attempt(message: Message, signal: AbortSignal): Promise<AttemptOutcome | Deferral> {
    const target = await this.target(message)
    const connector = target && getConnector(target.channel.type)
    if (!target || !connector) {
      return { kind: 'failed', error: { code: 'channel_unavailable', message: 'channel or connector not found', class: 'permanent' } }
    }
    if (target.configError) return this.classify(message, target.channel, target.configError)
    const looked = this.suppression.get(message)
    this.suppression.delete(message)
    const suppressed =
      looked !== undefined ? looked : await isSuppressed(this.deps.store.read, message.namespaceId, target.channel.type, message.recipient)
    if (suppressed) {
      return {
        kind: 'failed',
        error: { code: 'recipient_suppressed', message: `the recipient is on the suppression list (${suppressed})`, class: 'permanent' },
      }
    }
    const outbound: OutboundMessage = {
      id: message.id,
      namespace: target.namespaceSlug,
      channel: { id: target.channel.id, name: target.channel.name, type: target.channel.type },
      from: message.sender,
      to: parseRecipient(message.recipient),
      content: message.content,
      metadata: message.metadata,
      options: message.options,
      createdAt: message.createdAt,
      attempt: message.attempts,
    }
    const rate = target.channel.rateLimit
    if (rate !== null && rate > 0) {
      const slot = this.sendRates.slot(target.channel.id, rate, this.maxRateWaitMs)
      if (slot.kind === 'deferred') return slot
      if (slot.waitMs > 0) await abortableSleep(slot.waitMs, signal)
      if (signal.aborted) return { kind: 'released' }
    }
    // The attempt is abandoned after send_timeout_ms; the signal cancels the provider request, so
    // no second request for the message can start while the first is still open.
    const deadline = deadlineSignal(this.opts.sendTimeoutMs, signal)
    const attemptSignal = deadline.signal
    try {
      const result = await withTimeout(
        connector.send(outbound, {
          config: target.config,
          fetch: this.deps.fetch,
          userAgent: USER_AGENT,
          signal: attemptSignal,
          callbackUrl: inboundUrl(this.deps.publicUrl, target.channel.id),
          unsubscribeUrl: (recipient) => unsubscribeUrl(this.deps, target.channel.id, recipient),
        }),
        attemptSignal,
        this.opts.sendTimeoutMs,
      )
      return { kind: 'sent', providerMessageId: result.providerMessageId, confirmed: result.status }
    } catch (error) {
      return this.classify(message, target.channel, error)
    } finally {
      deadline.release()
    }
  }

  private classify(
    message: Message,
    channel: Pick<Target['channel'], 'maxAttempts' | 'maxAgeSeconds'>,
    error: unknown,
  ): AttemptOutcome {
    const attemptError: AttemptError =
      error instanceof ConnectorError
        ? { code: error.code, message: error.message, class: error.errorClass }
        : { code: 'connector_error', message: error instanceof Error ? error.message : String(error), class: 'transient' }
    if (attemptError.class === 'permanent') return { kind: 'failed', error: attemptError }
    const at = Date.now()
    const maxAttempts = channel.maxAttempts ?? this.opts.maxAttempts
    const maxAgeMs = (channel.maxAgeSeconds ?? this.opts.maxAgeSeconds) * 1000
    const delay =
      error instanceof ConnectorError && error.retryAfterMs !== undefined
        ? error.retryAfterMs
        : backoffDelay(message.attempts, this.opts.backoffBaseMs, this.opts.backoffMaxMs)
    if (message.attempts >= maxAttempts) {
      return { kind: 'failed', error: { ...attemptError, message: `${attemptError.message} (gave up after ${message.attempts} attempts)` } }
    }
    // Age counts from when the message was due, so a message scheduled far ahead still gets its
    // retries, and one accepted with a send_at already past (sent now) counts from its acceptance.
    if (at + delay - Math.max(message.sendAt ?? 0, message.createdAt) > maxAgeMs) {
      return { kind: 'failed', error: { ...attemptError, message: `${attemptError.message} (gave up: older than ${maxAgeMs / 1000} s)` } }
    }
    return { kind: 'retry', error: attemptError, nextAttemptAt: at + delay }
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

/**
 * Hands a claimed message back unsent, due at `until`, without counting the claim as an
 * attempt; the history notes why (a `queued` event, not raised as a webhook event).
 */
async function deferMessage(store: Store, owner: string, message: Message, until: number, reason: string, at: number): Promise<boolean> {
  return store.write(async (tx) => {
    const rows = await tx
      .update(messages)
      .set({ status: 'queued', nextAttemptAt: until, attempts: sql`${messages.attempts} - 1`, leaseOwner: null, leaseUntil: null, updatedAt: at })
      .where(and(eq(messages.id, message.id), eq(messages.leaseOwner, owner), eq(messages.attempts, message.attempts)))
      .returning()
    if (!rows[0]) return false
    const event = { namespaceId: message.namespaceId, messageId: message.id, status: 'queued', errorCode: 'channel_rate_limited', errorMessage: reason, createdAt: at }
    await appendEvents(tx, [event], rows)
    return true
  })
}

/** Settles when the send does, or rejects as a transient timeout once the signal aborts. */
function withTimeout<T>(promise: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  let onAbort!: () => void
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ConnectorError('transient', 'timeout', `no answer within ${ms} ms`))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort))
}
