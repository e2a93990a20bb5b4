/**
 * Namespace events: written as webhook deliveries (the outbox) in the same transaction as the
 * change that raised them. With no matching endpoint, an event costs one cached lookup.
 */
import { and, eq, inArray } from 'drizzle-orm'
import { newId } from '../../lib/ids'
import { TtlCache } from '../../lib/ttl-cache'
import { channels, namespaces, terminals, webhookDeliveries, webhooks } from '../../store/schema'
import { all } from '../../store/raw'
import { type Db, touch } from '../../store/store'
import { insertDeliveries } from '../messages/rows'
import { type Message, parseRecipient } from '../messages/views'
import { type EventType, MESSAGE_EVENT_TYPES } from './event-types'

/** Payloads above this are cut to a reference: the receiver reads the full message from the API. */
export const MAX_PAYLOAD_BYTES = 256 * 1024
/** Endpoint lists are cached this long; changes in this process clear them at once. */
const SUBSCRIBER_TTL_MS = 1000

type Subscriber = { id: string; types: Set<string>; all: boolean; channelIds: Set<string> }

const subscriberCache = new TtlCache<Subscriber[]>(SUBSCRIBER_TTL_MS)
const slugCache = new TtlCache<string>(60_000)

/** Endpoints read by the deliverer for each attempt (src/domain/webhooks/work.ts `loadEndpoint`). */
export const endpointCache = new TtlCache<typeof webhooks.$inferSelect | null>(SUBSCRIBER_TTL_MS)

export function invalidateWebhookCache(): void {
  subscriberCache.clear()
  endpointCache.clear()
}

async function subscribers(tx: Db, namespaceId: string): Promise<Subscriber[]> {
  const hit = subscriberCache.get(namespaceId)
  if (hit) return hit
  const rows = await tx
    .select({ id: webhooks.id, eventTypes: webhooks.eventTypes, channelIds: webhooks.channelIds, enabled: webhooks.enabled })
    .from(webhooks)
    .where(eq(webhooks.namespaceId, namespaceId))
  const list = rows
    .filter((r) => r.enabled)
    .map((r) => ({ id: r.id, types: new Set(r.eventTypes), all: r.eventTypes.includes('*'), channelIds: new Set(r.channelIds) }))
  subscriberCache.set(namespaceId, list)
  return list
}

async function namespaceSlug(tx: Db, namespaceId: string): Promise<string> {
  const hit = slugCache.get(namespaceId)
  if (hit) return hit
  const slug = (await tx.select({ slug: namespaces.slug }).from(namespaces).where(eq(namespaces.id, namespaceId)))[0]?.slug ?? namespaceId
  slugCache.set(namespaceId, slug)
  return slug
}

function matches(s: Subscriber, type: string, channelId: string | undefined): boolean {
  return (s.all || s.types.has(type)) && (s.channelIds.size === 0 || (channelId !== undefined && s.channelIds.has(channelId)))
}

export interface NamespaceEvent {
  type: EventType
  id: string
  at: number
  data: unknown
  /** For the endpoints' channel filter. */
  channelId?: string
}

/** Writes one delivery per matching endpoint for each event. */
export async function emitEvents(tx: Db, namespaceId: string, events: NamespaceEvent[], at: number): Promise<void> {
  if (events.length === 0) return
  const subs = await subscribers(tx, namespaceId)
  if (subs.length === 0) return
  const wanted = events.map((event) => ({ event, matching: subs.filter((s) => matches(s, event.type, event.channelId)) }))
  const ids = [...new Set(wanted.flatMap((w) => w.matching.map((s) => s.id)))]
  if (ids.length === 0) return
  // The cache may be a second old (another instance deleted or disabled an endpoint): only
  // endpoints that exist and are enabled in this transaction get a delivery.
  const live = new Set((await all<{ id: string }>(tx, liveText(ids.length), ids)).map((r) => r.id))
  const slug = await namespaceSlug(tx, namespaceId)
  const rows: (typeof webhookDeliveries.$inferInsert)[] = []
  for (const { event, matching: all } of wanted) {
    const matching = all.filter((s) => live.has(s.id))
    if (matching.length === 0) continue
    const payload = encodePayload({ type: event.type, id: event.id, timestamp: new Date(event.at).toISOString(), namespace: slug, data: event.data })
    for (const sub of matching) {
      rows.push({
        id: newId('whd'),
        namespaceId,
        webhookId: sub.id,
        eventId: event.id,
        eventType: event.type,
        payload,
        status: 'pending',
        nextAttemptAt: at,
        createdAt: at,
        updatedAt: at,
      })
    }
  }
  if (rows.length === 0) return
  await insertDeliveries(tx, rows)
  // The deliverer starts on them once they commit, not at its next poll.
  touch(tx, 'webhook_deliveries')
}

const liveTexts: string[] = []
/** The endpoints of `n` ids that exist and are enabled (one text per count, kept prepared). */
const liveText = (n: number) =>
  (liveTexts[n] ??= `SELECT id FROM webhooks WHERE enabled = 1 AND id IN (${Array(n).fill('?').join(', ')})`)

function encodePayload(event: { type: string; id: string; timestamp: string; namespace: string; data: unknown }): string {
  const full = JSON.stringify(event)
  if (Buffer.byteLength(full) <= MAX_PAYLOAD_BYTES) return full
  const message = (event.data as { message?: { id?: string } })?.message
  return JSON.stringify({ ...event, data: { truncated: true, message: message?.id ? { id: message.id } : undefined } })
}

export interface MessageChange {
  status: string
  /** The event row's id when there is one, so webhook-id matches the message's timeline. */
  eventId?: string
  at: number
  attempt?: number | null
  error?: { code: string; message: string | null; class?: string | null } | null
}

/** Whether any enabled endpoint of the namespace exists (cached): a batch skips its per-message work without one. */
export async function hasSubscribers(tx: Db, namespaceId: string): Promise<boolean> {
  return (await subscribers(tx, namespaceId)).length > 0
}

/** Emits `message.<status>` events for changes of one message (statuses without an event type are skipped). */
export function emitMessageEvents(tx: Db, message: Message, changes: MessageChange[], at: number): Promise<void> {
  return emitMessagesEvents(tx, [{ message, changes }], at)
}

/**
 * `emitMessageEvents` for the changes of many messages (a batch sent or recorded together): the
 * deliveries of each namespace are written together, one endpoint check and one multi-row
 * insert, in the order of the messages and of their changes.
 */
export async function emitMessagesEvents(tx: Db, items: readonly { message: Message; changes: MessageChange[] }[], at: number): Promise<void> {
  const byNamespace = new Map<string, NamespaceEvent[]>()
  for (const { message, changes } of items) {
    const typed = changes.filter((c) => (MESSAGE_EVENT_TYPES as readonly string[]).includes(`message.${c.status}`))
    if (typed.length === 0) continue
    const subs = await subscribers(tx, message.namespaceId)
    // The payload costs queries: build it only when some endpoint wants one of these events.
    if (!subs.some((s) => typed.some((c) => matches(s, `message.${c.status}`, message.channelId)))) continue
    const data = await messagePayload(tx, message)
    let events = byNamespace.get(message.namespaceId)
    if (!events) byNamespace.set(message.namespaceId, (events = []))
    for (const c of typed) {
      events.push({
        type: `message.${c.status}` as EventType,
        id: c.eventId ?? newId('evt'),
        at: c.at,
        channelId: message.channelId,
        data: {
          message: { ...data, status: c.status },
          event: { status: c.status, attempt: c.attempt ?? null, error: c.error ?? null },
        },
      })
    }
  }
  for (const [namespaceId, events] of byNamespace) await emitEvents(tx, namespaceId, events, at)
}

const channelInfo = new TtlCache<{ id: string; name: string; type: string } | null>(5000)
const terminalInfo = new TtlCache<{ id: string; address: string } | null>(5000)

async function messagePayload(tx: Db, m: Message) {
  let channel = channelInfo.get(m.channelId)
  if (channel === undefined) {
    channel = (await tx.select({ id: channels.id, name: channels.name, type: channels.type }).from(channels).where(eq(channels.id, m.channelId)))[0] ?? null
    channelInfo.set(m.channelId, channel)
  }
  let terminal = m.terminalId ? terminalInfo.get(m.terminalId) : null
  if (terminal === undefined && m.terminalId) {
    terminal = (await tx.select({ id: terminals.id, address: terminals.address }).from(terminals).where(eq(terminals.id, m.terminalId)))[0] ?? null
    terminalInfo.set(m.terminalId, terminal)
  }
  return {
    id: m.id,
    direction: m.direction,
    status: m.status,
    channel: channel ?? { id: m.channelId },
    terminal: terminal ?? null,
    from: m.sender,
    to: parseRecipient(m.recipient, m.direction),
    ...(m.direction === 'inbound' ? { content: m.content } : {}),
    metadata: m.metadata,
    attempts: m.attempts,
    provider_message_id: m.providerMessageId,
    error: m.errorCode ? { code: m.errorCode, message: m.errorMessage } : null,
    created_at: new Date(m.createdAt).toISOString(),
  }
}
