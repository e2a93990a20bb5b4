// A server that leaves a rejection unhandled (as `void p.finally(…)` on a failing write did in
// src/engine/jobs.ts), with or without serve's last-resort handler (argv[2] = 'guarded'), then
// asks itself for a page a little later.
import { logUnhandledRejections } from '../../src/cli/serve'
import { createLogger } from '../../src/lib/log'

if (process.argv[2] === 'guarded') logUnhandledRejections(createLogger({ level: 'info', format: 'json' }))
const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('still serving') })
// From a timer, as background work fails in a server (not while the module is evaluated).
setTimeout(() => void Promise.reject(new Error('the write failed')).finally(() => {}), 10)
setTimeout(async () => {
  console.log(await (await fetch(`http://127.0.0.1:${server.port}/`)).text())
  server.stop(true)
}, 300)
