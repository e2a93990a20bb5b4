/** Starting a gateway that may refuse to start. */
import type { Config } from '../../src/config'
import { silentLogger } from '../../src/lib/log'
import { type RunningServer, startServer } from '../../src/server'

/** The server when it started (`outcome` 'started'), else the message it refused with. */
export async function startOutcome(config: Config): Promise<{ outcome: string; server: RunningServer | null }> {
  try {
    return { outcome: 'started', server: await startServer({ config, demo: false, log: silentLogger, print: () => {} }) }
  } catch (error) {
    return { outcome: (error as Error).message, server: null }
  }
}

/** A port that was free a moment ago: the OS picks it for a throwaway listener. */
export function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = probe.port as number
  probe.stop(true)
  return port
}
