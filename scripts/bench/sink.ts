/**
 * A receiving endpoint in its own process: the `http` channel's target and the webhook
 * subscriber of the benchmark. Answers every POST with 200 `{"id": "<n>"}` (a string, so the
 * gateway keeps it as the provider message id, as it would a real provider's), and records when
 * each message first arrived (wall-clock ms, comparable across processes on this machine).
 *
 *   bun scripts/bench/sink.ts        prints {"port": N} on its first stdout line
 *
 * The id of an arrival is the JSON body's `id` (the message id the http connector sends), or
 * the `webhook-id` header (Standard Webhooks); webhook bodies are also counted by their `type`,
 * and each one's lag is kept: its first arrival − its payload's `timestamp` (when the event
 * happened in the gateway, ms precision, the same clock).
 *
 * Control: GET /__stats, GET /__arrivals ({ids, times}), GET /__lags ({lags}), POST /__reset.
 */
const wallNow = () => performance.timeOrigin + performance.now()

let requests = 0
let n = 0
let first: number | null = null
let last: number | null = null
let arrivals = new Map<string, number>()
let byType: Record<string, number> = {}
let lags: number[] = []

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    const at = wallNow()
    const path = new URL(req.url).pathname
    if (path === '/__stats') {
      return Response.json({ requests, unique: arrivals.size, first_ms: first, last_ms: last, by_type: byType })
    }
    if (path === '/__arrivals') {
      return Response.json({ ids: [...arrivals.keys()], times: [...arrivals.values()] })
    }
    if (path === '/__lags') return Response.json({ lags })
    if (path === '/__reset') {
      lags = []
      requests = 0
      first = last = null
      arrivals = new Map()
      byType = {}
      return Response.json({ ok: true })
    }
    const text = await req.text()
    requests++
    first ??= at
    last = at
    let id = req.headers.get('webhook-id')
    try {
      const body = JSON.parse(text) as { id?: unknown; type?: unknown; timestamp?: unknown }
      if (!id && typeof body.id === 'string') id = body.id
      if (typeof body.type === 'string' && req.headers.has('webhook-id') && !arrivals.has(id!)) {
        byType[body.type] = (byType[body.type] ?? 0) + 1
        if (typeof body.timestamp === 'string') lags.push(at - Date.parse(body.timestamp))
      }
    } catch {
      // not JSON: counted, without an id
    }
    if (id && !arrivals.has(id)) arrivals.set(id, at)
    return new Response(`{"id":"${++n}"}`, { status: 200, headers: { 'content-type': 'application/json' } })
  },
})

await Bun.write(Bun.stdout, `${JSON.stringify({ port: server.port })}\n`)
