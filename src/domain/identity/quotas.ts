/**
 * Limits of a namespace and its applications: API requests per second (enforced by the HTTP
 * rate-limit middleware) and messages accepted per UTC day and calendar month (counted and
 * checked here, inside the write that accepts the messages, so the count is exact).
 * Defaults come from `[limits]`; a namespace overrides them in `settings.quotas`
 * (`[[namespaces]] quotas` in the config), an application its request rate in `rate_limit`.
 */
import { and, eq } from 'drizzle-orm'
import { TtlCache } from '../../lib/ttl-cache'
import { applications, namespaces } from '../../store/schema'
import { all, insertRows } from '../../store/raw'
import { type CommitBatch, commitBatch, type Db } from '../../store/store'
import type { Deps } from '../deps'
import { errors, RetryLaterError } from '../errors'

/** What `namespaces.settings.quotas` may hold; 0 = unlimited, absent = the `[limits]` default. */
export interface QuotaSettings {
  messages_per_day?: number
  messages_per_month?: number
  requests_per_second?: number
}

export interface NamespaceLimits {
  /** API requests per second; 0 = none. */
  requestsPerSecond: number
  /** Messages accepted per UTC day / calendar month; 0 = unlimited. */
  messagesPerDay: number
  messagesPerMonth: number
}

/** Limit changes made by another process (or straight in the store) apply within this long. */
const LIMITS_CACHE_TTL_MS = 5000
const namespaceLimitsCache = new TtlCache<NamespaceLimits>(LIMITS_CACHE_TTL_MS)
const applicationLimitCache = new TtlCache<number>(LIMITS_CACHE_TTL_MS)

/** Forgets cached limits, so a change made in this process applies at once. */
export function invalidateLimitsCache(): void {
  namespaceLimitsCache.clear()
  applicationLimitCache.clear()
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined)

/** The quota overrides of a namespace's settings (malformed values are ignored). */
export function quotaSettings(settings: Record<string, unknown>): QuotaSettings {
  const q = settings.quotas
  if (!q || typeof q !== 'object') return {}
  const raw = q as Record<string, unknown>
  const out: QuotaSettings = {}
  for (const key of ['messages_per_day', 'messages_per_month', 'requests_per_second'] as const) {
    const v = count(raw[key])
    if (v !== undefined) out[key] = v
  }
  return out
}

/** A namespace's limits: its overrides over the `[limits]` defaults. Cached for 5 s. */
export async function namespaceLimits(deps: Pick<Deps, 'store' | 'limits'>, namespaceId: string, db: Db = deps.store.read): Promise<NamespaceLimits> {
  const hit = namespaceLimitsCache.get(namespaceId)
  if (hit) return hit
  const [row] = await db.select({ settings: namespaces.settings }).from(namespaces).where(eq(namespaces.id, namespaceId))
  const q = quotaSettings(row?.settings ?? {})
  const limits: NamespaceLimits = {
    requestsPerSecond: q.requests_per_second ?? deps.limits.namespaceRequestsPerSecond,
    messagesPerDay: q.messages_per_day ?? deps.limits.messagesPerDay,
    messagesPerMonth: q.messages_per_month ?? deps.limits.messagesPerMonth,
  }
  namespaceLimitsCache.set(namespaceId, limits)
  return limits
}

/** An application's API requests per second (its own `rate_limit` or the default); 0 = none. Cached for 5 s. */
export async function applicationRequestLimit(deps: Pick<Deps, 'store' | 'limits'>, namespaceId: string, applicationId: string): Promise<number> {
  const hit = applicationLimitCache.get(applicationId)
  if (hit !== undefined) return hit
  const [row] = await deps.store.read
    .select({ rateLimit: applications.rateLimit })
    .from(applications)
    .where(and(eq(applications.id, applicationId), eq(applications.namespaceId, namespaceId)))
  const limit = row?.rateLimit ?? deps.limits.applicationRequestsPerSecond
  applicationLimitCache.set(applicationId, limit)
  return limit
}

/** The usage periods `at` falls in (UTC) and when each ends. */
export function usagePeriods(at: number) {
  const d = new Date(at)
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()]
  const iso = d.toISOString()
  return {
    day: `day:${iso.slice(0, 10)}`,
    month: `month:${iso.slice(0, 7)}`,
    dayEndsAt: Date.UTC(y, m, day + 1),
    monthEndsAt: Date.UTC(y, m + 1, 1),
  }
}

/** Message counts per namespace and period, written at the commit of the transaction. */
class UsageBatch implements CommitBatch {
  private readonly counts = new Map<string, { namespaceId: string; period: string; n: number }>()

  add(namespaceId: string, period: string, n: number): void {
    const key = `${namespaceId}|${period}`
    const seen = this.counts.get(key)
    if (seen) seen.n += n
    else this.counts.set(key, { namespaceId, period, n })
  }

  absorb(other: UsageBatch): void {
    for (const c of other.counts.values()) this.add(c.namespaceId, c.period, c.n)
  }

  async flush(tx: Db): Promise<void> {
    const rows = [...this.counts.values()]
    this.counts.clear()
    await insertRows(tx, 'INSERT INTO usage_counters (namespace_id, period, messages)', 3, rows, (c) => [c.namespaceId, c.period, c.n], USAGE_CONFLICT)
  }
}

const USAGE_CONFLICT = ' ON CONFLICT (namespace_id, period) DO UPDATE SET messages = messages + excluded.messages'

/** On every accepted request: hand-written SQL (src/store/raw.ts). */
const COUNT_USAGE =
  'INSERT INTO usage_counters (namespace_id, period, messages) VALUES (?, ?, ?), (?, ?, ?) ' +
  `${USAGE_CONFLICT.trim()} RETURNING period, messages`

/**
 * Counts `n` accepted messages against the namespace's day and month, inside the write that
 * accepts them (so concurrent requests are counted exactly), and refuses the whole request with
 * 429 `quota_exceeded` when it would go over a quota; the caller's write then undoes the count.
 */
export async function countAcceptedMessages(
  deps: Pick<Deps, 'store' | 'limits'>,
  tx: Db,
  namespaceId: string,
  n: number,
  at: number,
): Promise<void> {
  if (n <= 0) return
  const limits = await namespaceLimits(deps, namespaceId, tx)
  const periods = usagePeriods(at)
  // Nothing to check: count with the transaction's other increments, once at its commit.
  const unlimited = limits.messagesPerDay === 0 && limits.messagesPerMonth === 0
  const batch = unlimited ? commitBatch(tx, 'usage', () => new UsageBatch()) : null
  if (batch) {
    batch.add(namespaceId, periods.day, n)
    batch.add(namespaceId, periods.month, n)
    return
  }
  const counted = await all<{ period: string; messages: number }>(tx, COUNT_USAGE, [namespaceId, periods.day, n, namespaceId, periods.month, n])
  const total = (period: string) => counted.find((c) => c.period === period)?.messages ?? n
  // The month first: when both are used up, the later reset is the one worth waiting for.
  const checks = [
    { limit: limits.messagesPerMonth, period: periods.month, name: 'monthly', span: periods.month.slice(6), endsAt: periods.monthEndsAt },
    { limit: limits.messagesPerDay, period: periods.day, name: 'daily', span: periods.day.slice(4), endsAt: periods.dayEndsAt },
  ]
  for (const check of checks) {
    const used = total(check.period)
    if (check.limit === 0 || used <= check.limit) continue
    const before = used - n
    const left = Math.max(0, check.limit - before)
    const resets = new Date(check.endsAt).toISOString()
    const detail =
      `the namespace's ${check.name} message quota of ${check.limit} (${check.span}, UTC) ` +
      `${left === 0 ? 'is used up' : `has ${left} left and this request has ${n}`}; it resets at ${resets}`
    throw new RetryLaterError(errors.quotaExceeded(detail), Math.max(1, Math.ceil((check.endsAt - at) / 1000)))
  }
}
