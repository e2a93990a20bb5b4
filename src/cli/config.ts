import type { Command } from 'commander'
import { type Config, ConfigError, loadConfig } from '../config'
import { validateChannelConfig } from '../domain/channels'
import type { Deps } from '../domain/deps'
import { AppError } from '../domain/errors'
import { masterKey, StartupError } from '../gateway'
import { createMailer, MailConfigError } from '../lib/mailer'
import { silentLogger } from '../lib/log'
import { action } from './context'

/**
 * What `serve` refuses in a valid file, found from the file alone (no database, no network), by
 * the checks `serve` itself runs: the master key, the mail settings, each declared channel's
 * type and config. So a file `config check` calls ok is not refused at start for a reason it
 * could see. One line each, key path first.
 */
async function startupProblems(config: Config): Promise<string[]> {
  const problems: string[] = []
  try {
    masterKey(config, false)
  } catch (error) {
    if (!(error instanceof StartupError)) throw error
    problems.push(error.message)
  }
  try {
    createMailer(config.mail, silentLogger)
  } catch (error) {
    if (!(error instanceof MailConfigError)) throw error
    problems.push(error.message)
  }
  for (const [i, ns] of config.namespaces.entries()) {
    for (const [j, channel] of ns.channels.entries()) {
      const path = `namespaces[${i}].channels[${j}]`
      try {
        // Without resolving hosts, the dependencies are never read (as reconcile checks at start).
        await validateChannelConfig({} as Deps, channel.type, { ...channel.config }, { resolveHosts: false })
      } catch (error) {
        if (!(error instanceof AppError)) throw error
        if (error.errors.length === 0) problems.push(`${path}: ${error.detail}`)
        for (const e of error.errors) problems.push(`${path}.${e.field}: ${e.message}`)
      }
    }
  }
  return problems
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration files')
  config
    .command('check <file>')
    .description('validate a config file; prints every error with its key path')
    .action(
      action(async (file: string) => {
        let problems: string[]
        try {
          problems = await startupProblems(loadConfig({ path: file, explicitPath: true }).config)
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error
          problems = error.issues.map((issue) => `${issue.path}: ${issue.message}`)
        }
        if (problems.length === 0) {
          console.log(`${file}: ok`)
          return
        }
        for (const problem of problems) process.stderr.write(`${file}: ${problem}\n`)
        process.exitCode = 1
      }),
    )
}
