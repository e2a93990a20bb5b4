/**
 * The suppression list: per namespace and channel type, recipients that must not be sent to
 * (hard bounces, complaints, opt-outs, manual entries). Sends to them fail at once.
 */
import { and, desc, eq, type SQL, sql } from 'drizzle-orm'
import { connectorTypes } from '../../connectors/registry'
import { suppressions } from '../../store/schema'
import { all } from '../../store/raw'
import type { Db } from '../../store/store'
import { type Deps, now } from '../deps'
import { errors, invalidField } from '../errors'

export type Suppression = typeof suppressions.$inferSelect
export type SuppressionReason = 'bounce' | 'complaint' | 'opt-out' | 'manual'

export function suppressionView(s: Suppression) {
  return {
    channel_type: s.channelType,
    recipient: s.recipient,
    reason: s.reason,
    detail: s.detail,
    created_at: new Date(s.createdAt).toISOString(),
  }
}

/**
 * Recipients compare case-insensitively for e-mail, and phone numbers with or without their
 * leading + (WhatsApp reports `15551234567` for `+15551234567`); other ids as given.
 */
export function normalizeRecipient(recipient: string): string {
  const value = recipient.trim()
  if (value.includes('@')) return value.toLowerCase()
  if (/^\+?[1-9]\d{6,14}$/.test(value)) return value.startsWith('+') ? value : `+${value}`
  return value
}

/** Adds (or keeps) an entry inside an open transaction; an existing entry keeps its first reason. */
export async function suppress(
  tx: Db,
  namespaceId: string,
  entry: { channelType: string; recipient: string; reason: SuppressionReason; detail?: string },
  at: number,
): Promise<void> {
  await tx
    .insert(suppressions)
    .values({
      namespaceId,
      channelType: entry.channelType,
      recipient: normalizeRecipient(entry.recipient),
      reason: entry.reason,
      detail: (entry.detail ?? '').slice(0, 500),
      createdAt: at,
    })
    .onConflictDoNothing()
}

/** Removes an entry; with `onlyReason`, only an entry of that reason (START lifts an opt-out, not a bounce). */
export async function unsuppress(
  tx: Db,
  namespaceId: string,
  channelType: string,
  recipient: string,
  onlyReason?: SuppressionReason,
): Promise<boolean> {
  const rows = await tx
    .delete(suppressions)
    .where(
      and(
        eq(suppressions.namespaceId, namespaceId),
        eq(suppressions.channelType, channelType),
        eq(suppressions.recipient, normalizeRecipient(recipient)),
        ...(onlyReason ? [eq(suppressions.reason, onlyReason)] : []),
      ),
    )
    .returning({ recipient: suppressions.recipient })
  return rows.length > 0
}

/** Checked before every send: hand-written SQL (src/store/raw.ts). */
const SUPPRESSED = 'SELECT reason FROM suppressions WHERE namespace_id = ? AND channel_type = ? AND recipient = ? LIMIT 1'

export async function isSuppressed(db: Db, namespaceId: string, channelType: string, recipient: string) {
  const rows = await all<{ reason: string }>(db, SUPPRESSED, [namespaceId, channelType, normalizeRecipient(recipient)])
  return rows[0]?.reason ?? null
}

/**
 * `isSuppressed` for many recipients of one namespace and channel type in one query (the
 * dispatcher looks up a claimed batch at once): the reason of each suppressed recipient, keyed
 * by the recipient as given. Recipients go through JSON text, so each is made well-formed first,
 * as binding it would (a lone surrogate becomes U+FFFD, not bytes that are not UTF-8).
 */
export async function suppressedAmong(
  db: Db,
  namespaceId: string,
  channelType: string,
  recipients: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  if (recipients.length === 0) return found
  const keys = recipients.map((r) => normalizeRecipient(r).toWellFormed())
  const rows = await all<{ recipient: string; reason: string }>(db, SUPPRESSED_AMONG, [namespaceId, channelType, JSON.stringify([...new Set(keys)])])
  if (rows.length === 0) return found
  const reasons = new Map(rows.map((r) => [r.recipient, r.reason]))
  recipients.forEach((r, i) => {
    const reason = reasons.get(keys[i]!)
    if (reason !== undefined) found.set(r, reason)
  })
  return found
}

const SUPPRESSED_AMONG =
  'SELECT recipient, reason FROM suppressions WHERE namespace_id = ? AND channel_type = ? AND recipient IN (SELECT value FROM json_each(?))'

export async function listSuppressions(
  deps: Deps,
  namespaceId: string,
  input: { channel_type?: string; limit: number; cursor?: string },
) {
  const where: SQL[] = [eq(suppressions.namespaceId, namespaceId)]
  if (input.channel_type) where.push(eq(suppressions.channelType, input.channel_type))
  if (input.cursor) {
    const [at, type, recipient] = decodeCursor(input.cursor)
    where.push(sql`(${suppressions.createdAt}, ${suppressions.channelType}, ${suppressions.recipient}) < (${at}, ${type}, ${recipient})`)
  }
  const rows = await deps.store.read
    .select()
    .from(suppressions)
    .where(and(...where))
    .orderBy(desc(suppressions.createdAt), desc(suppressions.channelType), desc(suppressions.recipient))
    .limit(input.limit + 1)
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    data: page.map(suppressionView),
    next_cursor: rows.length > input.limit && last ? encodeCursor([last.createdAt, last.channelType, last.recipient]) : null,
  }
}

type Cursor = [number, string, string]
const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url')
function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (Array.isArray(c) && Number.isSafeInteger(c[0]) && typeof c[1] === 'string' && typeof c[2] === 'string') return c as Cursor
  } catch {}
  throw invalidField('cursor', 'is not a cursor this list returned')
}

export async function addSuppression(
  deps: Deps,
  namespaceId: string,
  input: { channel_type: string; recipient: string; detail?: string },
) {
  if (!connectorTypes().includes(input.channel_type)) {
    throw invalidField('channel_type', `unknown channel type "${input.channel_type}" (known: ${connectorTypes().join(', ')})`)
  }
  // Only spaces would be stored as an empty entry that no DELETE can name.
  if (normalizeRecipient(input.recipient) === '') throw invalidField('recipient', 'must not be empty')
  const at = now(deps)
  await deps.store.write((tx) =>
    suppress(tx, namespaceId, { channelType: input.channel_type, recipient: input.recipient, reason: 'manual', detail: input.detail }, at),
  )
}

export async function removeSuppression(deps: Deps, namespaceId: string, channelType: string, recipient: string) {
  const removed = await deps.store.write((tx) => unsuppress(tx, namespaceId, channelType, recipient))
  if (!removed) throw errors.suppressionNotFound(`"${recipient}" is not suppressed on ${channelType} channels`)
}
