/**
 * A fake receiver for the `http` connector and webhooks: records every request and, like a strict
 * real receiver, answers 400 to anything that is not a JSON body sent as application/json.
 */

export interface ReceivedRequest {
  method: string
  /** Path and query. */
  path: string
  /** Header names lower-cased. */
  headers: Record<string, string>
  /** The raw body text. */
  rawBody: string
  /** The parsed JSON body; undefined when it did not parse. */
  body: unknown
}

export interface HttpReceiver {
  /** Base URL, e.g. `http://127.0.0.1:41234/`. */
  url: string
  port: number
  /** Every request that arrived, in order, including the ones answered 400. */
  received: ReceivedRequest[]
  stop(): Promise<void>
}

export interface HttpReceiverOptions {
  /** How to answer a valid request; n counts valid requests from 1. Default: 200 `{"id":"rcv_<n>"}`. */
  respond?: (req: ReceivedRequest, n: number) => Response | Promise<Response>
}

export function startHttpReceiver(opts: HttpReceiverOptions = {}): HttpReceiver {
  const received: ReceivedRequest[] = []
  let valid = 0

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      const rawBody = await req.text()
      let body: unknown
      let parsed = false
      try {
        body = JSON.parse(rawBody)
        parsed = true
      } catch {
        body = undefined
      }
      const entry: ReceivedRequest = {
        method: req.method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(req.headers),
        rawBody,
        body,
      }
      received.push(entry)

      const contentType = req.headers.get('content-type') ?? ''
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        return Response.json({ error: `expected content-type application/json, got ${contentType || 'none'}` }, { status: 400 })
      }
      if (!parsed) return Response.json({ error: 'body is not valid JSON' }, { status: 400 })

      valid++
      return opts.respond ? opts.respond(entry, valid) : Response.json({ id: `rcv_${valid}` })
    },
  })

  return {
    url: `http://127.0.0.1:${server.port}/`,
    port: server.port as number,
    received,
    // Closes open connections too, so a slow responder cannot keep a test file alive.
    stop: () => server.stop(true),
  }
}
