import type { Command } from 'commander'
import { migrate } from '../store/migrate'
import { openStore } from '../store/open'
import { startServer } from '../server'
import { storeOptions } from '../gateway'
import { createLogger, type Logger } from '../lib/log'
import { action, globals, loadCliConfig, printJson } from './context'

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the gateway: HTTP API, dispatcher and scheduled jobs')
    .option('--listen <host:port>', 'address to listen on (server.listen)')
    .action(
      action(async (opts: { listen?: string }, cmd: Command) => {
        const { config, demo } = loadCliConfig(globals(cmd), opts.listen ? { OMNIGATE_SERVER_LISTEN: opts.listen } : undefined)
        const log = createLogger(config.log)
        logUnhandledRejections(log)
        const server = await startServer({ config, demo, log, print: (line) => console.log(line) })
        console.log(`omnigate listening on ${server.url}`)
        await new Promise<void>((resolve) => {
          const shutdown = () => void server.stop().then(resolve)
          process.once('SIGTERM', shutdown)
          process.once('SIGINT', shutdown)
        })
      }),
    )
}

/**
 * A rejection nothing handled is a bug; Bun's default is to end the process for it, taking the
 * requests in flight with it. The gateway logs it with its stack and goes on serving instead:
 * nobody awaited that promise, so no loop or request is waiting on it, and all work is in the
 * database anyway (docs/decisions.md). Only `serve` does this: tests and CLI commands still fail
 * loudly.
 */
export function logUnhandledRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection (a bug: please report it); the gateway goes on', {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    })
  })
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(
      action(async (_opts: unknown, cmd: Command) => {
        const { config } = loadCliConfig(globals(cmd))
        const store = await openStore(storeOptions(config))
        try {
          const applied = await migrate(store)
          if (globals(cmd).json) printJson({ applied })
          else console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date')
        } finally {
          await store.close()
        }
      }),
    )
}
