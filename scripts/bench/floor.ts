/**
 * The send floor: the work a keyed single send cannot do without, and nothing else, in its own
 * process, so the `ingest` figure can be read against what this machine allows for it.
 *
 * Per request: the bearer key's SHA-256 looked up in a map (what the gateway's key cache does on
 * a hit) and its expiry checked, the body read and `JSON.parse`d, the gateway's own `sendMessageSchema`, the SHA-256
 * of the validated body (the idempotency request hash), an id and timestamps, the answer's JSON.
 * Per group commit (flushed on `setImmediate`, as the gateway's write queue): `BEGIN IMMEDIATE`,
 * then per request a savepoint, the idempotency record and the message row into the project's
 * real schema (every column, all its indexes, foreign keys on), then `COMMIT`; each request is
 * answered 202 after its commit. A repeated `Idempotency-Key` is answered 409. The database
 * runs with the gateway's settings: its page cache, and WAL checkpoints on the gateway's
 * checkpoint thread.
 *
 * Left out, all of which the gateway does on every send: the API key's expiry, revocation and
 * scopes, the namespace look-up and its status, rate limits, quotas, the channel and terminal,
 * the connector's draft checks, the canonical request hash, analytics rollups, the webhook
 * check, metrics, the access log, the request id.
 *
 * Usage: bun scripts/bench/floor.ts DB_PATH [NORMAL|FULL] with OMNIGATE_BENCH_KEY set; prints
 * {"port": N} on its first stdout line and closes the database on SIGTERM.
 */
import { sendMessageSchema } from '../../src/domain/messages/input'
import { DEFAULT_CACHE_MB } from '../../src/store/bun-sqlite'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from '../../src/store/checkpointer'
import { schemaDatabase } from './schema-db'

const [path, synchronous = 'NORMAL'] = process.argv.slice(2)
const key = process.env.OMNIGATE_BENCH_KEY
if (!path || !key || (synchronous !== 'NORMAL' && synchronous !== 'FULL')) {
  console.error('usage: OMNIGATE_BENCH_KEY=… bun scripts/bench/floor.ts DB_PATH [NORMAL|FULL]')
  process.exit(2)
}

const { db, namespaceId, channelId, insertMessage } = schemaDatabase(path, synchronous)
// The gateway's settings: its page cache, and WAL checkpoints on a thread of their own.
db.run(`PRAGMA cache_size = ${-Math.round(DEFAULT_CACHE_MB * 1024)}`)
db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
const checkpointer = new Checkpointer(path, 5000)
const claimKey = db.prepare(
  'INSERT INTO idempotency_keys (namespace_id, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, 202, ?, ?) ' +
    'ON CONFLICT (namespace_id, key) DO NOTHING',
)
// Found as the gateway's key cache finds a key: by the SHA-256 of the secret, never the secret.
const hashOf = (secret: string) => new Bun.CryptoHasher('sha256').update(secret).digest('base64')
const principals = new Map([[hashOf(key), { namespaceId, applicationId: `app_${Bun.randomUUIDv7().replaceAll('-', '')}`, expiresAt: null as number | null }]])

interface Accepted {
  row: Record<string, string | number | null>
  key: string | null
  hash: string
  answer: string
}
type Outcome = 'accepted' | 'repeated' | 'failed'

let queue: { item: Accepted; done: (outcome: Outcome) => void }[] = []
let scheduled = false

function flush(): void {
  scheduled = false
  const batch = queue
  queue = []
  if (batch.length === 0) return
  const outcomes: Outcome[] = []
  try {
    db.run('BEGIN IMMEDIATE')
    for (const { item } of batch) {
      db.run('SAVEPOINT floor')
      try {
        if (item.key !== null && claimKey.run(namespaceId, item.key, item.hash, item.answer, item.row.created_at!).changes === 0) {
          outcomes.push('repeated')
        } else {
          insertMessage(item.row)
          outcomes.push('accepted')
        }
        db.run('RELEASE floor')
      } catch {
        db.run('ROLLBACK TO floor')
        db.run('RELEASE floor')
        outcomes.push('failed')
      }
    }
    db.run('COMMIT')
  } catch {
    if (db.inTransaction) db.run('ROLLBACK')
    outcomes.length = 0
  }
  if (outcomes.length > 0) checkpointer.committed()
  batch.forEach(({ done }, i) => done(outcomes[i] ?? 'failed'))
}

function enqueue(item: Accepted): Promise<Outcome> {
  return new Promise((done) => {
    queue.push({ item, done })
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  })
}

const BEARER = /^Bearer\s+(\S+)$/i
const json = (status: number, body: string) => new Response(body, { status, headers: { 'content-type': 'application/json' } })

async function send(request: Request): Promise<Response> {
  if (request.method !== 'POST') return json(405, '{"error":"method"}')
  const bearer = BEARER.exec(request.headers.get('authorization') ?? '')
  const principal = bearer ? principals.get(hashOf(bearer[1]!)) : undefined
  if (!principal || (principal.expiresAt !== null && principal.expiresAt <= Date.now())) return json(401, '{"error":"unauthorized"}')
  let body: unknown
  try {
    body = JSON.parse(await request.text())
  } catch {
    return json(400, '{"error":"malformed json"}')
  }
  const parsed = sendMessageSchema.safeParse(body)
  if (!parsed.success) return json(422, '{"error":"invalid"}')
  const input = parsed.data
  const hash = new Bun.CryptoHasher('sha256').update(JSON.stringify(input)).digest('hex')
  const at = Date.now()
  const id = `msg_${Bun.randomUUIDv7().replaceAll('-', '')}`
  const answer = JSON.stringify({ id, status: 'queued', send_at: null, created_at: new Date(at).toISOString() })
  const row = {
    id,
    namespace_id: principal.namespaceId,
    channel_id: channelId,
    application_id: principal.applicationId,
    direction: 'outbound',
    status: 'queued',
    sender: input.from ?? null,
    recipient: typeof input.to === 'string' ? input.to : JSON.stringify(input.to),
    content: JSON.stringify(input.content),
    metadata: JSON.stringify(input.metadata ?? {}),
    options: JSON.stringify(input.options ?? {}),
    next_attempt_at: at,
    attempts: 0,
    created_at: at,
    updated_at: at,
  }
  const outcome = await enqueue({ row, key: request.headers.get('idempotency-key'), hash, answer })
  if (outcome === 'accepted') return json(202, answer)
  return outcome === 'repeated' ? json(409, '{"error":"idempotency key in use"}') : json(500, '{"error":"write failed"}')
}

const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: send })
process.on('SIGTERM', async () => {
  server.stop(true)
  if (queue.length > 0) flush()
  await checkpointer.close()
  db.close()
  process.exit(0)
})
await Bun.write(Bun.stdout, `${JSON.stringify({ port: server.port })}\n`)
