/** /healthz: the process is up. /readyz: the store answers and every migration is applied. */
import { Hono } from 'hono'
import { isMigrated } from '../../store/migrate'
import type { Store } from '../../store/store'

export function healthRoutes(store: Store) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const ready = await isMigrated(store)
      return c.json({ status: ready ? 'ready' : 'not ready' }, ready ? 200 : 503)
    })
}
