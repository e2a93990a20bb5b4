import type { Command } from 'commander'
import { type Config, type ConfigIssue, checkConfigFile, loadConfig } from '../config'
import type { Deps } from '../domain/deps'
import { AppError } from '../domain/errors'
import { validateChannelConfig } from '../domain/channels'
import { action } from './context'

/**
 * What `serve` refuses in a valid file, found from the file alone (no database, no network): a
 * missing master key, a declared channel of an unknown type or with a bad config, mail without
 * a sender. So a file `config check` calls ok is not refused at start for a reason it could see.
 */
async function startupIssues(config: Config): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = []
  if (!config.security.master_key) {
    issues.push({ path: 'security.master_key', message: 'is not set: with a config file it is required (32 random bytes, base64)' })
  }
  if (config.mail.smtp_url && config.mail.from.trim() === '') {
    issues.push({ path: 'mail.from', message: 'must be set when mail.smtp_url is set (e.g. "omnigate <noreply@example.com>")' })
  }
  for (const [i, ns] of config.namespaces.entries()) {
    for (const [j, channel] of ns.channels.entries()) {
      const path = `namespaces[${i}].channels[${j}]`
      try {
        // Without resolving hosts, the dependencies are never read (as reconcile checks at start).
        await validateChannelConfig({} as Deps, channel.type, { ...channel.config }, { resolveHosts: false })
      } catch (error) {
        if (!(error instanceof AppError)) throw error
        if (error.errors.length === 0) issues.push({ path, message: error.detail })
        for (const e of error.errors) issues.push({ path: `${path}.${e.field}`, message: e.message })
      }
    }
  }
  return issues
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration files')
  config
    .command('check <file>')
    .description('validate a config file; prints every error with its key path')
    .action(
      action(async (file: string) => {
        let issues = checkConfigFile(file)
        if (issues.length === 0) issues = await startupIssues(loadConfig({ path: file, explicitPath: true, env: process.env }).config)
        if (issues.length === 0) {
          console.log(`${file}: ok`)
          return
        }
        for (const issue of issues) process.stderr.write(`${file}: ${issue.path}: ${issue.message}\n`)
        process.exitCode = 1
      }),
    )
}
