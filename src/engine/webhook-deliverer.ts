/**
 * The webhook deliverer: claims due deliveries, POSTs each payload signed per attempt (the
 * `webhook-timestamp` is the time of the attempt, so receivers' staleness checks pass on
 * retries), and records the answer. Only 2xx is success; 410 disables the endpoint; 429/503
 * honour Retry-After; failures retry on the schedule, then the delivery is dead-lettered; an
 * endpoint failing without a success for too long is disabled.
 */
import { hostname } from 'node:os'
import type { Deps } from '../domain/deps'
import type { Delivery } from '../domain/webhooks/deliveries'
import { activeSecrets, openSecrets, type Webhook, type WebhookSecrets } from '../domain/webhooks/endpoints'
import { webhookHeaders } from '../domain/webhooks/signing'
import { claimDueDeliveries, completeDelivery, type DeliveryOutcome, loadEndpoint } from '../domain/webhooks/work'
import { parseRetryAfter } from '../connectors/http'
import type { Logger } from '../lib/log'
import { countWebhookOutcome } from '../lib/metrics'
import { RatePacer } from '../lib/token-bucket'
import { sendableWebhookHeader } from '../config/webhooks-schema'
import { USER_AGENT } from '../version'
import { ClaimLoop } from './claim-loop'

export interface DelivererOptions {
  /** Delay before each attempt, from the event: the first is usually 0 (immediately). */
  scheduleMs: number[]
  timeoutMs: number
  disableAfterMs: number
  perEndpointConcurrency: number
  concurrency: number
  batchSize: number
  pollIntervalMs: number
  shutdownTimeoutMs: number
}

/** Kept of each answer for the delivery log: enough to read an error page's reason. */
const RESPONSE_SNIPPET_CHARS = 512
/** A Retry-After beyond this is treated as this: a day. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000

export class WebhookDeliverer {
  readonly owner = `${hostname()}:${process.pid}:wh:${Math.random().toString(36).slice(2, 8)}`
  private readonly loop: ClaimLoop<Delivery>
  /** Per-endpoint `rate_limit` (deliveries per second), in this process. */
  private readonly rates = new RatePacer()
  private readonly opened = new Map<string, { sealed: string; secrets: WebhookSecrets }>()
  /** Longer than two timeouts: an attempt never outlives its lease. */
  private readonly leaseMs: number

  constructor(
    private readonly deps: Deps,
    private readonly opts: DelivererOptions,
    log: Logger,
  ) {
    this.leaseMs = opts.timeoutMs * 2 + 5000
    this.loop = new ClaimLoop<Delivery>(
      {
        name: 'webhook deliverer',
        concurrency: opts.concurrency,
        batchSize: opts.batchSize,
        pollIntervalMs: opts.pollIntervalMs,
        shutdownTimeoutMs: opts.shutdownTimeoutMs,
        claim: async (limit) => {
          const { deliveries, more } = await claimDueDeliveries(deps.store, this.owner, { limit, perEndpoint: opts.perEndpointConcurrency, leaseMs: this.leaseMs }, Date.now())
          return { items: deliveries, more }
        },
        process: (delivery, signal) => this.deliverSafely(delivery, signal),
        release: (delivery) => completeDelivery(deps.store, this.owner, delivery, null, { kind: 'released' }, Date.now()).then(() => {}),
      },
      log,
    )
  }

  start(): void {
    this.loop.start()
  }

  wake(): void {
    this.loop.wake()
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** Whatever breaks before an answer (a secret that no longer opens) still counts as an attempt. */
  private async deliverSafely(delivery: Delivery, signal: AbortSignal): Promise<void> {
    try {
      await this.deliver(delivery, signal)
    } catch (error) {
      if (this.loop.released(signal)) return
      const at = Date.now()
      const attempt = { statusCode: null, latencyMs: 0, response: null, error: `internal: ${error instanceof Error ? error.message : String(error)}` }
      await completeDelivery(this.deps.store, this.owner, delivery, attempt, countWebhookOutcome(this.outcome(delivery, null, null, undefined, at)), at)
    }
  }

  private async deliver(delivery: Delivery, signal: AbortSignal): Promise<void> {
    const endpoint = await loadEndpoint(this.deps.store, delivery.webhookId)
    if (!endpoint || !endpoint.enabled) {
      await completeDelivery(this.deps.store, this.owner, delivery, null, { kind: 'released' }, Date.now())
      return
    }
    if (endpoint.rateLimit) {
      // Waiting at most what the lease allows; a later slot goes back to the queue.
      const slot = this.rates.slot(endpoint.id, endpoint.rateLimit, this.leaseMs - this.opts.timeoutMs * 2)
      if (slot.kind === 'deferred') {
        await completeDelivery(this.deps.store, this.owner, delivery, null, { kind: 'deferred', nextAttemptAt: slot.until }, Date.now())
        return
      }
      if (slot.waitMs > 0) await Bun.sleep(slot.waitMs)
    }
    const sealed = this.secretsOf(endpoint)
    const started = Date.now()
    const headers = {
      ...sealed.headers,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...webhookHeaders(activeSecrets(sealed, started), delivery.eventId, Math.floor(started / 1000), delivery.payload),
    }
    let statusCode: number | null = null
    let response: string | null = null
    let error: string | null = null
    let retryAfterMs: number | undefined
    try {
      const res = await this.deps.fetch(endpoint.url, { method: 'POST', headers, body: delivery.payload, timeoutMs: this.opts.timeoutMs, signal })
      statusCode = res.status
      response = (await res.text()).slice(0, RESPONSE_SNIPPET_CHARS)
      if (res.status === 429 || res.status === 503) retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
    if (this.loop.released(signal)) return
    const at = Date.now()
    const attempt = { statusCode, latencyMs: at - started, response, error }
    await completeDelivery(this.deps.store, this.owner, delivery, attempt, countWebhookOutcome(this.outcome(delivery, endpoint.failingSince, statusCode, retryAfterMs, at)), at)
  }

  private outcome(delivery: Delivery, failingSince: number | null, statusCode: number | null, retryAfterMs: number | undefined, at: number): DeliveryOutcome {
    if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { kind: 'succeeded' }
    if (statusCode === 410) return { kind: 'disable', reason: 'the endpoint answered 410 Gone' }
    if (failingSince !== null && at - failingSince > this.opts.disableAfterMs) {
      return { kind: 'disable', reason: `no successful delivery for ${Math.round(this.opts.disableAfterMs / 3_600_000)} h` }
    }
    const step = this.opts.scheduleMs[delivery.attempts]
    if (step === undefined) return { kind: 'dead' }
    // ±10 % jitter spreads the retries of deliveries that failed together.
    const jittered = Math.round(step * (0.9 + Math.random() * 0.2))
    const delay = retryAfterMs !== undefined ? Math.min(MAX_RETRY_AFTER_MS, Math.max(retryAfterMs, jittered)) : jittered
    return { kind: 'retry', nextAttemptAt: at + delay }
  }

  /** The endpoint's secrets and sendable headers, decrypted once per sealed value rather than once per attempt. */
  private secretsOf(endpoint: Webhook): WebhookSecrets {
    const seen = this.opened.get(endpoint.id)
    if (seen && seen.sealed === endpoint.secretsEnc) return seen.secrets
    const opened = openSecrets(this.deps, endpoint)
    // The custom headers that may go out, filtered once per sealed value rather than per attempt.
    const secrets = { ...opened, headers: customHeaders(opened.headers) }
    this.opened.set(endpoint.id, { sealed: endpoint.secretsEnc, secrets })
    return secrets
  }
}

/** An endpoint's custom headers that may go out: never one the gateway sets, whatever its case. */
function customHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) if (sendableWebhookHeader(name)) out[name] = value
  return out
}
