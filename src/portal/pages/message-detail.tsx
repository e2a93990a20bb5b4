/**
 * One message: content, metadata and the event timeline (`getMessage`, as
 * `GET …/messages/{id}`), updated live over server-sent events while it is in flight, and
 * cancelled while it is scheduled (`cancelMessage`, as `POST …/messages/{id}/cancel`).
 */
import { Hono, type Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { Deps } from '../../domain/deps'
import type { Logger } from '../../lib/log'
import { cancelMessage, getMessage } from '../../domain/messages/query'
import { can, nsUrl, requirePortalScope } from '../access'
import { auditPortal } from '../audit'
import { StatusBadge, Time } from '../components'
import { CSRF_FIELD } from '../csrf'
import type { PortalEnv } from '../env'
import { fragment, render } from '../layout'

type MessageDetail = Awaited<ReturnType<typeof getMessage>>

/** Statuses after which nothing more happens to a message: the live stream ends there. */
export const SETTLED_STATUSES = new Set(['delivered', 'read', 'failed', 'cancelled', 'expired', 'received'])
/** How often the stream looks for a change. */
const POLL_MS = 500
/** A comment this often keeps the connection from looking idle (Bun.serve closes it after 10 s). */
export const HEARTBEAT_MS = 5_000
/** A stream ends after this long; the browser reconnects (EventSource) if the page is still open. */
const STREAM_MAX_MS = 10 * 60_000

const json = (value: unknown) => JSON.stringify(value, null, 2)
const recipientText = (to: unknown) => (typeof to === 'string' ? to : JSON.stringify(to))

/** The part of the page that changes: status, actions and the timeline. */
function LiveStatus(props: { c: Context<PortalEnv>; m: MessageDetail }) {
  const { c, m } = props
  return (
    <>
      <p class="status-line">
        Status: <StatusBadge status={m.status} /> <span class="muted">(updated <Time at={m.updated_at} />, attempts {m.attempts})</span>
        {m.provider_message_id ? (
          <span class="muted">
            {' '}
            · provider id <code>{m.provider_message_id}</code>
          </span>
        ) : null}
      </p>
      {m.error ? (
        <p class="form-message">
          {m.error.code}: {m.error.message}
        </p>
      ) : null}
      {m.status === 'scheduled' && can(c, 'messages:send') ? (
        <form method="post" action={nsUrl(c, `/messages/${m.id}/cancel`)} data-confirm="Cancel this scheduled message?" class="actions">
          <input type="hidden" name={CSRF_FIELD} value={c.get('csrfToken')} />
          <button type="submit" class="danger">
            Cancel message
          </button>
        </form>
      ) : null}
      <h2>Timeline</h2>
      <ol class="timeline">
        {m.events.map((e) => (
          <li>
            <StatusBadge status={e.status} /> <Time at={e.at} />
            {e.attempt !== null ? <span class="muted"> · attempt {e.attempt}</span> : null}
            {e.provider_message_id ? <span class="muted"> · provider id <code>{e.provider_message_id}</code></span> : null}
            {e.error ? (
              <div class="field-error">
                {e.error.code}: {e.error.message}
              </div>
            ) : null}
          </li>
        ))}
      </ol>
    </>
  )
}

function Detail(props: { c: Context<PortalEnv>; m: MessageDetail }) {
  const { c, m } = props
  const content = m.content as { subject?: string; text?: string; html?: string; attachments?: { filename: string; content_type?: string }[] }
  const live = !SETTLED_STATUSES.has(m.status)
  return (
    <>
      <p>
        <a href={nsUrl(c, '/messages')}>All messages</a>
      </p>
      <h1>
        Message <code>{m.id}</code>
      </h1>
      <section class="panel" aria-live="polite">
        <div id="message-live" data-live={live ? nsUrl(c, `/messages/${m.id}/events`) : undefined}>
          <LiveStatus c={c} m={m} />
        </div>
      </section>
      <div class="grid-2">
        <section class="panel">
          <h2>Details</h2>
          <dl class="meta">
            <dt>Direction</dt>
            <dd>{m.direction}</dd>
            <dt>Channel</dt>
            <dd>
              {m.channel.name} <span class="muted">({m.channel.type})</span>
            </dd>
            <dt>From</dt>
            <dd class="mono">{m.from ?? '—'}</dd>
            <dt>To</dt>
            <dd class="mono">{recipientText(m.to)}</dd>
            <dt>Created</dt>
            <dd>
              <Time at={m.created_at} />
            </dd>
            <dt>Send at</dt>
            <dd>
              <Time at={m.send_at} />
            </dd>
          </dl>
        </section>
        <section class="panel">
          <h2>Content</h2>
          {content.subject !== undefined ? (
            <p>
              <strong>Subject:</strong> {content.subject}
            </p>
          ) : null}
          {content.text !== undefined ? <pre>{content.text}</pre> : null}
          {content.html !== undefined ? (
            <details>
              <summary>HTML source</summary>
              <pre>{content.html}</pre>
            </details>
          ) : null}
          {content.attachments?.length ? (
            <ul>
              {content.attachments.map((a) => (
                <li>
                  {a.filename} <span class="muted">{a.content_type ?? ''}</span>
                </li>
              ))}
            </ul>
          ) : null}
          {content.text === undefined && content.html === undefined && !content.attachments?.length ? <p class="muted">No content kept (purged by retention).</p> : null}
        </section>
      </div>
      <section class="panel">
        <h2>Metadata</h2>
        {Object.keys(m.metadata ?? {}).length === 0 ? <p class="muted">None.</p> : <pre>{json(m.metadata)}</pre>}
        {Object.keys(m.options ?? {}).length > 0 ? (
          <>
            <h2>Options</h2>
            <pre>{json(m.options)}</pre>
          </>
        ) : null}
      </section>
    </>
  )
}

/** Live streams open now, per gateway: a stream whose browser went away must end (tests watch it). */
const liveStreams = new WeakMap<Deps, number>()
export const openLiveStreams = (deps: Deps): number => liveStreams.get(deps) ?? 0

/** What the stream compares to decide whether the page needs an update. */
const fingerprint = (m: MessageDetail) => `${m.status}|${m.events.length}|${m.updated_at}|${m.attempts}`

export function messageDetailPages(deps: Deps, log: Logger) {
  const app = new Hono<PortalEnv>()

  app.get('/:id', async (c) => {
    requirePortalScope(c, 'messages:read')
    const m = await getMessage(deps, c.get('access').namespaceId, c.req.param('id'))
    return render(c, { title: `Message ${m.id}`, section: 'messages' }, <Detail c={c} m={m} />)
  })

  app.get('/:id/events', async (c) => {
    requirePortalScope(c, 'messages:read')
    const namespaceId = c.get('access').namespaceId
    const id = c.req.param('id')
    // Before the stream opens: another namespace's id (or none) is a plain 404.
    const first = await getMessage(deps, namespaceId, id)
    // A HEAD answer has no body to read, so nothing would ever end its stream: none is opened.
    if (c.req.method === 'HEAD') return c.body(null, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    return streamSSE(c, async (stream) => {
      liveStreams.set(deps, (liveStreams.get(deps) ?? 0) + 1)
      try {
        const started = Date.now()
        let lastBeat = started
        let seen = ''
        let m = first
        await stream.writeSSE({ event: 'ready', data: '', retry: 3000 })
        // A browser that goes away aborts the stream: the loop ends at its next turn (≤ POLL_MS).
        while (!stream.aborted && !stream.closed && Date.now() - started < STREAM_MAX_MS) {
          if (fingerprint(m) !== seen) {
            seen = fingerprint(m)
            await stream.writeSSE({ event: 'update', data: await fragment(<LiveStatus c={c} m={m} />) })
            if (SETTLED_STATUSES.has(m.status)) {
              await stream.writeSSE({ event: 'done', data: m.status })
              return
            }
          } else if (Date.now() - lastBeat >= HEARTBEAT_MS) {
            await stream.write(': heartbeat\n\n')
            lastBeat = Date.now()
          }
          await stream.sleep(POLL_MS)
          if (stream.aborted) break
          m = await getMessage(deps, namespaceId, id)
        }
      } catch (error) {
        // Caught here rather than by streamSSE, which would write the error's text to the page.
        // The browser sees the stream end and reconnects (EventSource).
        log.warn('portal live stream failed', { message_id: id, error: error instanceof Error ? error.message : String(error) })
      } finally {
        liveStreams.set(deps, (liveStreams.get(deps) ?? 1) - 1)
      }
    })
  })

  app.post('/:id/cancel', async (c) => {
    requirePortalScope(c, 'messages:send')
    const m = await cancelMessage(deps, c.get('access').namespaceId, c.req.param('id'))
    await auditPortal(deps, c, { resource: { type: 'message', id: m.id } })
    return c.redirect(nsUrl(c, `/messages/${m.id}`), 303)
  })
  return app
}
