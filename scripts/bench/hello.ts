/**
 * The HTTP ceiling: a hello-world `Bun.serve` in its own process, answering every request
 * with 202 and a small JSON body without reading the request (the same answer shape as an
 * accepted message). Prints {"port": N} on its first stdout line.
 */
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: () => new Response('{"status":"queued"}', { status: 202, headers: { 'content-type': 'application/json' } }),
})
await Bun.write(Bun.stdout, `${JSON.stringify({ port: server.port })}\n`)
