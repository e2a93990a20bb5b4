/**
 * A local receiver for trying the `http` channel: prints every POST it gets and answers 200 with
 * an id. `bun run receiver [port]` (default 9000), loopback only.
 */
const port = Number(Bun.argv[2] ?? 9000)
let n = 0
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  async fetch(req) {
    n++
    const body = await req.text()
    console.log(`--- ${req.method} ${new URL(req.url).pathname}  idempotency-key: ${req.headers.get('idempotency-key')}`)
    console.log(body)
    return Response.json({ id: `receiver-${n}` })
  },
})
console.log(`receiver listening on http://127.0.0.1:${server.port}/`)
