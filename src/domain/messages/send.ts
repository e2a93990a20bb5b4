/**
 * Accepting outbound messages: validate, resolve the channel and terminal, and insert the message
 * row, which is itself the dispatcher's work item (transactional outbox). One message or a batch,
 * with Idempotency-Key support, through the group-commit write queue.
 */
import { getConnector } from '../../connectors/registry'
import { newId } from '../../lib/ids'
import { urlProblem } from '../../lib/url-guard'
import { zodFieldErrors } from '../../lib/zod-errors'
import { all, runCounted } from '../../store/raw'
import type { Db, Store } from '../../store/store'
import { countNewMessages } from '../analytics/rollups'
import { invalidateChannelCache, resolveChannel } from '../channels/resolve'
import { type Deps, now } from '../deps'
import { type FieldError, errors } from '../errors'
import { countAcceptedMessages } from '../identity/quotas'
import { emitMessagesEvents, hasSubscribers } from '../webhooks/emit'
import type { SendMessageInput } from './input'
import { insertMessages } from './rows'
import type { Message } from './views'

/** An Idempotency-Key answers with the first response for this long (DESIGN.md). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/** A send_at further ahead than this is almost certainly a mistake. */
const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000

export interface SendContext {
  applicationId?: string | null
  idempotency?: { key: string; requestHash: string }
}

/** What the API answers: a fresh acceptance or the replay of the first response to the key. */
export interface Accepted {
  status: number
  body: unknown
  replayed: boolean
}

/** The answer for each accepted message; a batch shares its creation time, so it is formatted once. */
function acceptedItems(rows: Message[]) {
  let createdAt = 0
  let createdIso = ''
  return rows.map((m) => {
    if (m.createdAt !== createdAt || createdIso === '') [createdAt, createdIso] = [m.createdAt, new Date(m.createdAt).toISOString()]
    return { id: m.id, status: m.status, send_at: m.sendAt === null ? null : new Date(m.sendAt).toISOString(), created_at: createdIso }
  })
}

function decodedBase64Length(b64: string): number | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null
  return (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0)
}

/** Builds the message row, or lists what is wrong with the input (paths relative to it). */
async function prepareMessage(
  deps: Deps,
  namespaceId: string,
  input: SendMessageInput,
  ctx: SendContext,
  at: number,
): Promise<{ row: Message } | { errors: FieldError[] }> {
  const problems: FieldError[] = []
  const channel = await resolveChannel(deps.store, namespaceId, input.channel)
  if (!channel) return { errors: [{ field: 'channel', message: `no channel "${input.channel}" in this namespace` }] }
  const connector = getConnector(channel.type)

  let sender: string | null = null
  let terminalId: string | null = null
  if (channel.terminals.length > 0) {
    const terminal = input.from
      ? channel.terminals.find((t) => t.address === input.from || t.id === input.from)
      : (channel.terminals.find((t) => t.isDefault) ?? channel.terminals[0])
    if (!terminal) problems.push({ field: 'from', message: `"${input.from}" is not a terminal of channel "${channel.name}"` })
    else [sender, terminalId] = [terminal.address, terminal.id]
  } else if (input.from) {
    sender = input.from
  }

  if (typeof input.to === 'string' && input.to.startsWith('{')) {
    problems.push({ field: 'to', message: 'an object recipient must be sent as a JSON object, not a string' })
  }

  let attachmentBytes = 0
  for (const [i, attachment] of (input.content.attachments ?? []).entries()) {
    const field = `content.attachments.${i}`
    if (attachment.content_base64 !== undefined) {
      const size = decodedBase64Length(attachment.content_base64)
      if (size === null) problems.push({ field: `${field}.content_base64`, message: 'is not valid base64' })
      else attachmentBytes += size
    } else if (attachment.url !== undefined) {
      const problem = await urlProblem(attachment.url, { allowPrivateNetwork: deps.limits.allowPrivateNetwork })
      if (problem) problems.push({ field: `${field}.url`, message: problem })
    }
  }
  if (attachmentBytes > deps.limits.maxAttachmentBytes) {
    problems.push({
      field: 'content.attachments',
      message: `attachments total ${attachmentBytes} bytes, more than the limit of ${deps.limits.maxAttachmentBytes}`,
    })
  }

  if (connector?.checkDraft) {
    problems.push(...connector.checkDraft({ to: input.to, from: sender, content: input.content, options: input.options ?? {} }))
  }

  const extras = input.options?.[channel.type]
  if (connector?.optionsSchema && extras !== undefined) {
    const parsed = connector.optionsSchema.safeParse(extras)
    if (!parsed.success) problems.push(...zodFieldErrors(parsed.error, ['options', channel.type]))
  }

  const sendAt = input.send_at ? Date.parse(input.send_at) : null
  if (sendAt !== null && sendAt - at > MAX_SCHEDULE_AHEAD_MS) {
    problems.push({ field: 'send_at', message: 'must be at most a year ahead' })
  }
  if (problems.length > 0) return { errors: problems }

  const scheduled = sendAt !== null && sendAt > at
  return {
    row: {
      id: newId('msg'),
      namespaceId,
      channelId: channel.id,
      terminalId,
      applicationId: ctx.applicationId ?? null,
      direction: 'outbound',
      status: scheduled ? 'scheduled' : 'queued',
      sender,
      recipient: typeof input.to === 'string' ? input.to : JSON.stringify(input.to),
      content: input.content,
      metadata: input.metadata ?? {},
      options: input.options ?? {},
      sendAt,
      nextAttemptAt: scheduled ? sendAt : at,
      attempts: 0,
      leaseOwner: null,
      leaseUntil: null,
      providerMessageId: null,
      errorCode: null,
      errorMessage: null,
      createdAt: at,
      updatedAt: at,
    },
  }
}

const inFlight = new Set<string>()

type IdempotencyRow = { request_hash: string; response_status: number; response_body: string; created_at: number }

const FIND_KEY = 'SELECT request_hash, response_status, response_body, created_at FROM idempotency_keys WHERE namespace_id = ? AND key = ?'
/**
 * Takes the key for this request, or takes over an expired record of it, before anything else
 * is written. No row changed: a fresh record holds the key (its request is replayed). A record
 * taken over moves to the end of the table (a new rowid), so insertion order stays time order
 * for the cleanup (pruneIdempotencyKeys).
 */
const CLAIM_KEY =
  'INSERT INTO idempotency_keys (namespace_id, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (namespace_id, key) DO UPDATE SET request_hash = excluded.request_hash, response_status = excluded.response_status, ' +
  'response_body = excluded.response_body, created_at = excluded.created_at, rowid = (SELECT max(rowid) + 1 FROM idempotency_keys) ' +
  'WHERE idempotency_keys.created_at <= ?'

async function findIdempotent(db: Db, namespaceId: string, key: string, at: number) {
  const row = (await all<IdempotencyRow>(db, FIND_KEY, [namespaceId, key]))[0]
  return row && row.created_at > at - IDEMPOTENCY_TTL_MS ? row : undefined
}

/** Records removed per write by the cleanup: the write lock is held a few milliseconds at a time. */
export const IDEMPOTENCY_PRUNE_BATCH = 1000
/**
 * The first rows in insertion order that have expired. Records are written in time order (one
 * taken over after expiry moves to the end), so the expired ones lead.
 */
const PRUNE_KEYS =
  'DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys ORDER BY rowid LIMIT ?) AND created_at < ?'

/**
 * Deletes the records older than the TTL, a batch per write, until a batch finds none. No index
 * on the time: each insert pays one index less, and a batch reads only the rows it deletes.
 */
export async function pruneIdempotencyKeys(store: Store, at: number, opts: { batchSize?: number; signal?: AbortSignal } = {}): Promise<number> {
  const batchSize = opts.batchSize ?? IDEMPOTENCY_PRUNE_BATCH
  let deleted = 0
  while (!opts.signal?.aborted) {
    const n = await store.write((tx) => runCounted(tx, PRUNE_KEYS, [batchSize, at - IDEMPOTENCY_TTL_MS]))
    deleted += n
    if (n === 0) break
  }
  return deleted
}

function replay(row: IdempotencyRow, requestHash: string): Accepted {
  if (row.request_hash !== requestHash) throw errors.idempotencyMismatch()
  return { status: row.response_status, body: JSON.parse(row.response_body), replayed: true }
}

/**
 * Validates every input, then inserts all rows in one shared commit, atomically with the
 * idempotency record. Any invalid input rejects the whole call with every bad field.
 */
async function accept(
  deps: Deps,
  namespaceId: string,
  inputs: SendMessageInput[],
  ctx: SendContext,
  fieldPrefix: (i: number) => string,
  respond: (rows: Message[]) => unknown,
): Promise<Accepted> {
  const at = now(deps)
  const idem = ctx.idempotency
  const flightKey = idem ? `${namespaceId}\u0000${idem.key}` : ''
  // No read of the key up front: a repeated request is rare, and the write below finds it anyway
  // (one SELECT less per send; docs/performance.md).
  if (idem) {
    if (inFlight.has(flightKey)) {
      // Repeats of a request that finished long ago, arriving together: answered from the store.
      const seen = await findIdempotent(deps.store.read, namespaceId, idem.key, at)
      if (seen) return replay(seen, idem.requestHash)
      throw errors.idempotencyInFlight()
    }
    inFlight.add(flightKey)
  }

  /** One try: the inputs checked against the (cached) channel, then written. */
  async function once(): Promise<Accepted> {
    const prepared = await Promise.all(inputs.map((input) => prepareMessage(deps, namespaceId, input, ctx, at)))
    const problems = prepared.flatMap((p, i) =>
      'errors' in p ? p.errors.map((e) => ({ field: fieldPrefix(i) + e.field, message: e.message })) : [],
    )
    if (problems.length > 0) {
      // A repeat gets the first answer even when its input would now be refused (say, its channel
      // was deleted since).
      const seen = idem && (await findIdempotent(deps.store.read, namespaceId, idem.key, at))
      if (seen) return replay(seen, idem.requestHash)
      throw errors.validation(`${problems[0]!.field}: ${problems[0]!.message}`, problems)
    }
    const rows = prepared.map((p) => (p as { row: Message }).row)
    const body = respond(rows)
    const result = await deps.store.write(async (tx): Promise<Accepted> => {
      if (idem) {
        // Authoritative inside the write lock: another instance may have taken the key. The
        // response is recorded now; a failure below rolls it back with everything else.
        const taken = await runCounted(tx, CLAIM_KEY, [namespaceId, idem.key, idem.requestHash, 202, JSON.stringify(body), at, at - IDEMPOTENCY_TTL_MS])
        if (taken === 0) {
          const seen = await findIdempotent(tx, namespaceId, idem.key, at)
          if (seen) return replay(seen, idem.requestHash)
          throw new Error('idempotency key neither taken nor found')
        }
      }
      // Counted in the same write as the rows, so the quota holds exactly under concurrency.
      await countAcceptedMessages(deps, tx, namespaceId, rows.length, at)
      await insertMessages(tx, rows)
      await countNewMessages(tx, rows)
      if (await hasSubscribers(tx, namespaceId)) {
        const queued = rows.filter((row) => row.status === 'queued')
        await emitMessagesEvents(tx, queued.map((row) => ({ message: row, changes: [{ status: 'queued', at }] })), at)
      }
      return { status: 202, body, replayed: false }
    })
    if (!result.replayed) deps.signalWork?.()
    return result
  }

  try {
    // The channel and its terminals come from a cache: one deleted meanwhile (here, or by another
    // instance within the cache's second) fails the insert's foreign key. Read afresh, once.
    for (let fresh = false; ; fresh = true) {
      try {
        return await once()
      } catch (error) {
        if (!isForeignKeyFailure(error)) throw error
        invalidateChannelCache()
        if (fresh) throw errors.conflict('the channel or its terminals changed while the message was being accepted; send it again')
      }
    }
  } finally {
    if (idem) inFlight.delete(flightKey)
  }
}

const isForeignKeyFailure = (error: unknown) => error instanceof Error && error.message.includes('FOREIGN KEY constraint failed')

/** Accepts one message: 202 `{id, status, …}`. */
export function sendMessage(deps: Deps, namespaceId: string, input: SendMessageInput, ctx: SendContext = {}) {
  return accept(deps, namespaceId, [input], ctx, () => '', (rows) => acceptedItems(rows)[0])
}

/** Accepts up to `limits.maxBatch` messages atomically: all or none. */
export function sendMessages(deps: Deps, namespaceId: string, inputs: SendMessageInput[], ctx: SendContext = {}) {
  if (inputs.length > deps.limits.maxBatch) {
    throw errors.validation(`at most ${deps.limits.maxBatch} messages per batch`, [
      { field: 'messages', message: `at most ${deps.limits.maxBatch} messages per batch, got ${inputs.length}` },
    ])
  }
  return accept(deps, namespaceId, inputs, ctx, (i) => `messages.${i}.`, (rows) => ({ data: acceptedItems(rows) }))
}
