/**
 * The sandbox connector: accepts everything and reports `delivered`, unless the message asks
 * otherwise with `options.sandbox` — for demos, tests and the benchmark.
 */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const sandboxOptionsSchema = z.strictObject({
  /** delivered | read: success; failed: a permanent failure; transient: fail transiently every time. */
  outcome: z.enum(['delivered', 'read', 'failed', 'transient']).default('delivered'),
  /** Fail transiently this many attempts before the outcome applies. */
  failures: z.int().min(0).max(100).default(0),
  /** Wait this long before answering, as a slow provider would. */
  delay_ms: z.int().min(0).max(60_000).default(0),
})

/** A provider that stops waiting when the attempt is abandoned, as a cancelled request would. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(signal.reason)
    })
  })
}

export const sandboxConnector: Connector<Record<string, never>> = {
  type: 'sandbox',
  capabilities: ['send', 'health'],
  configSchema: z.strictObject({}),
  secretKeys: [],
  optionsSchema: sandboxOptionsSchema,
  async send(msg, ctx) {
    const opts = sandboxOptionsSchema.parse(msg.options.sandbox ?? {})
    if (opts.delay_ms > 0) await abortableSleep(opts.delay_ms, ctx.signal)
    if (msg.attempt <= opts.failures || opts.outcome === 'transient') {
      throw new ConnectorError('transient', 'sandbox_transient', `simulated transient failure (attempt ${msg.attempt})`)
    }
    if (opts.outcome === 'failed') {
      throw new ConnectorError('permanent', 'sandbox_failed', 'simulated permanent failure')
    }
    return { providerMessageId: `sbx_${msg.id.slice(4)}`, status: opts.outcome }
  },
  async health() {
    return { ok: true }
  },
}
