/**
 * A stand-in for a remote libSQL server (sqld, Turso): Hrana v2 over HTTP, `POST /v2/pipeline`
 * with `execute`, `batch`, `store_sql`, `close_sql` and `close`, answering every statement with
 * an empty result (one row `1` for a SELECT). It keeps no data: it is for what the client does
 * when the server is slow or silent, not for SQL. `hang = true` leaves requests unanswered.
 */

type Stmt = { sql?: string; sql_id?: number }
type Request = { type: string; stmt?: Stmt; batch?: { steps: { stmt: Stmt }[] }; sql?: string; sql_id?: number }

export interface FakeHrana {
  url: string
  /** While true, pipeline requests are held unanswered (until stop()). */
  hang: boolean
  /** Statements executed, in order. */
  statements: string[]
  stop(): void
}

export function startFakeHrana(): FakeHrana {
  const sqls = new Map<number, string>()
  const held: (() => void)[] = []
  const result = (text: string) => {
    const select = /^\s*select/i.test(text)
    return { cols: select ? [{ name: 'x', decltype: null }] : [], rows: select ? [[{ type: 'integer', value: '1' }]] : [], affected_row_count: 0, last_insert_rowid: null }
  }
  const fake: FakeHrana = {
    url: '',
    hang: false,
    statements: [],
    stop: () => {
      for (const release of held.splice(0)) release()
      server.stop(true)
    },
  }
  const textOf = (stmt: Stmt) => stmt.sql ?? sqls.get(stmt.sql_id!) ?? ''
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      if (req.method !== 'POST' || path !== '/v2/pipeline') return new Response('not found', { status: 404 })
      const body = (await req.json()) as { baton: string | null; requests: Request[] }
      if (fake.hang) await new Promise<void>((resolve) => held.push(resolve))
      const results = body.requests.map((r) => {
        if (r.type === 'store_sql') sqls.set(r.sql_id!, r.sql!)
        if (r.type === 'close_sql') sqls.delete(r.sql_id!)
        if (r.type === 'execute') {
          const text = textOf(r.stmt!)
          fake.statements.push(text)
          return { type: 'ok', response: { type: 'execute', result: result(text) } }
        }
        if (r.type === 'batch') {
          const steps = r.batch!.steps.map((s) => textOf(s.stmt))
          fake.statements.push(...steps)
          return { type: 'ok', response: { type: 'batch', result: { step_results: steps.map(result), step_errors: steps.map(() => null) } } }
        }
        return { type: 'ok', response: { type: r.type } }
      })
      return Response.json({ baton: `b${Math.random().toString(36).slice(2)}`, base_url: null, results })
    },
  })
  fake.url = `http://127.0.0.1:${server.port}`
  return fake
}
