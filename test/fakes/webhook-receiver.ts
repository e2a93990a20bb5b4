/**
 * A subscriber endpoint for webhook tests: records every delivery with its headers and raw
 * body, and answers as the test scripts it (n counts requests from 1).
 */
export interface ReceivedWebhook {
  headers: Record<string, string>
  body: string
  at: number
}

export function startWebhookReceiver(respond: (n: number, req: ReceivedWebhook) => Response | Promise<Response> = () => new Response('ok')) {
  const received: ReceivedWebhook[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const entry = { headers: Object.fromEntries(req.headers), body: await req.text(), at: Date.now() }
      received.push(entry)
      return respond(received.length, entry)
    },
  })
  return { url: `http://127.0.0.1:${server.port}/hook`, received, stop: () => server.stop(true) }
}
