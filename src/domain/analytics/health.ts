/**
 * Channel health: each channel's recent success rate (from the minute rollups) and last provider
 * error (kept on the channel row by the rollups, in the transaction of each failed attempt), and
 * the `failing` status with its `channel.failing` / `channel.recovered` events.
 *
 * The status is evaluated by the named job `channel-health` every minute, not in the transaction
 * that completes an attempt: the dispatcher's hot path then pays nothing for it, a quiet channel
 * whose failures have aged out of the window recovers although no attempt completes, and a
 * channel changes status at most once a minute, so a flapping provider does not flood webhook
 * subscribers. The price is up to a minute's delay before a channel is marked failing.
 */
import { and, eq, gte, inArray, ne, sql } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { channels, messageRollups, namespaces } from '../../store/schema'
import type { Db } from '../../store/store'
import { invalidateChannelCache } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { emitEvents } from '../webhooks/emit'
import { floorTo, MINUTE_MS } from './rollups'

/** The window failures are judged over: long enough for a quiet channel to gather evidence, short enough to react within minutes. */
export const HEALTH_WINDOW_MS = 15 * MINUTE_MS
/** Fewer attempt outcomes than this say nothing: two failed sends out of three are bad recipients, not an outage. */
export const HEALTH_MIN_ATTEMPTS = 10
/** Half the attempts failing is a provider outage or broken credentials, not a few bad recipients. */
export const HEALTH_FAILING_RATE = 0.5
/** The success rate a channel's view shows covers this long. */
export const SUCCESS_RATE_WINDOW_MS = 60 * MINUTE_MS

/** Attempt outcomes: a success is `sent`; a failure is a retried or failed attempt (or a provider's failure report). */
const OUTCOMES = ['sent', 'retried', 'failed'] as const

export interface Outcomes {
  attempts: number
  failures: number
}

/**
 * Attempt outcomes per channel since `since` (minute rollups), of one namespace or (`null`) of
 * every active namespace at once.
 */
export async function channelOutcomes(db: Db, namespaceId: string | null, since: number, channelIds?: string[]): Promise<Map<string, Outcomes>> {
  const active = db.select({ id: namespaces.id }).from(namespaces).where(eq(namespaces.status, 'active'))
  const rows = await db
    .select({ channelId: messageRollups.channelId, status: messageRollups.status, n: sql<number>`sum(${messageRollups.count})` })
    .from(messageRollups)
    .where(
      and(
        namespaceId !== null ? eq(messageRollups.namespaceId, namespaceId) : inArray(messageRollups.namespaceId, active),
        eq(messageRollups.granularity, 'minute'),
        gte(messageRollups.bucketStart, floorTo(since, MINUTE_MS)),
        inArray(messageRollups.status, [...OUTCOMES]),
        channelIds ? inArray(messageRollups.channelId, channelIds) : undefined,
      ),
    )
    .groupBy(messageRollups.channelId, messageRollups.status)
  const result = new Map<string, Outcomes>()
  for (const r of rows) {
    const o = result.get(r.channelId) ?? { attempts: 0, failures: 0 }
    const n = Number(r.n)
    o.attempts += n
    if (r.status !== 'sent') o.failures += n
    result.set(r.channelId, o)
  }
  return result
}

/** Success rate (0–1, four decimals) of each channel over the last hour; null without attempts. */
export async function successRates(db: Db, namespaceId: string, at: number, channelIds?: string[]): Promise<Map<string, number | null>> {
  const outcomes = await channelOutcomes(db, namespaceId, at - SUCCESS_RATE_WINDOW_MS, channelIds)
  return new Map([...outcomes].map(([id, o]) => [id, o.attempts === 0 ? null : round4((o.attempts - o.failures) / o.attempts)]))
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000

/**
 * What the window says: failing when at least HEALTH_MIN_ATTEMPTS outcomes and at least
 * HEALTH_FAILING_RATE of them failures. A failing channel recovers when that no longer holds
 * over enough attempts, or when the window has no failure left; fewer attempts that still
 * include failures are no evidence either way, so the status stays.
 */
export function judge(current: string, o: Outcomes | undefined): 'failing' | 'active' | null {
  const attempts = o?.attempts ?? 0
  const failures = o?.failures ?? 0
  const failing = attempts >= HEALTH_MIN_ATTEMPTS && failures / attempts >= HEALTH_FAILING_RATE
  if (current === 'active' && failing) return 'failing'
  if (current === 'failing' && !failing && (attempts >= HEALTH_MIN_ATTEMPTS || failures === 0)) return 'active'
  return null
}

export interface HealthChange {
  channelId: string
  namespaceId: string
  status: 'failing' | 'active'
}

/**
 * Evaluates every channel that is not paused (of an active namespace) and moves it to `failing` or back to `active`,
 * raising `channel.failing` / `channel.recovered` in the same transaction. Each change is a
 * conditional update, so two instances running the job at once raise each event once, and a
 * channel paused meanwhile is left alone.
 */
export async function evaluateChannelHealth(deps: Deps, at = now(deps)): Promise<HealthChange[]> {
  // A disabled namespace (being deleted) sends nothing and is told nothing.
  const candidates = await deps.store.read
    .select({ id: channels.id, namespaceId: channels.namespaceId, status: channels.status })
    .from(channels)
    .innerJoin(namespaces, eq(namespaces.id, channels.namespaceId))
    .where(and(ne(channels.status, 'paused'), eq(namespaces.status, 'active')))
  // One read for every namespace: channel ids are unique across them.
  const outcomes = await channelOutcomes(deps.store.read, null, at - HEALTH_WINDOW_MS)
  const planned: (HealthChange & { outcomes: Outcomes })[] = []
  for (const c of candidates) {
    const verdict = judge(c.status, outcomes.get(c.id))
    if (verdict) planned.push({ channelId: c.id, namespaceId: c.namespaceId, status: verdict, outcomes: outcomes.get(c.id) ?? { attempts: 0, failures: 0 } })
  }
  if (planned.length === 0) return []

  const done = await deps.store.write(async (tx) => {
    const changes: HealthChange[] = []
    for (const p of planned) {
      const [row] = await tx
        .update(channels)
        .set({ status: p.status, updatedAt: at })
        .where(and(eq(channels.id, p.channelId), eq(channels.namespaceId, p.namespaceId), eq(channels.status, p.status === 'failing' ? 'active' : 'failing')))
        .returning()
      if (!row) continue
      changes.push({ channelId: p.channelId, namespaceId: p.namespaceId, status: p.status })
      const type = p.status === 'failing' ? 'channel.failing' : 'channel.recovered'
      await emitEvents(
        tx,
        p.namespaceId,
        [
          {
            type,
            id: newId('evt'),
            at,
            channelId: row.id,
            data: {
              channel: { id: row.id, name: row.name, type: row.type, status: row.status },
              window: {
                minutes: HEALTH_WINDOW_MS / MINUTE_MS,
                attempts: p.outcomes.attempts,
                failures: p.outcomes.failures,
                failure_rate: p.outcomes.attempts === 0 ? null : round4(p.outcomes.failures / p.outcomes.attempts),
                threshold: HEALTH_FAILING_RATE,
                min_attempts: HEALTH_MIN_ATTEMPTS,
              },
              last_error: lastErrorView(row),
            },
          },
        ],
        at,
      )
    }
    return changes
  })
  if (done.length > 0) invalidateChannelCache()
  return done
}

/** The channel's last provider error as the API shows it. */
export function lastErrorView(c: { lastErrorCode: string | null; lastErrorMessage: string | null; lastErrorAt: number | null }) {
  return c.lastErrorCode === null
    ? null
    : { code: c.lastErrorCode, message: c.lastErrorMessage, at: c.lastErrorAt === null ? null : new Date(c.lastErrorAt).toISOString() }
}
