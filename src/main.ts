#!/usr/bin/env bun
/** omnigate: the command line. Each command group lives in src/cli/. */
import { Command, CommanderError } from 'commander'
import { registerAdmin } from './cli/admin'
import { registerAudit } from './cli/audit'
import { registerBackup } from './cli/backup'
import { registerChannels } from './cli/channels'
import { registerConfig } from './cli/config'
import { reportError } from './cli/context'
import { registerJobs } from './cli/jobs'
import { registerKeysAndClients } from './cli/keys'
import { registerMembers } from './cli/members'
import { registerMessages } from './cli/messages'
import { registerNamespaces } from './cli/namespaces'
import { registerProvisioning } from './cli/provision'
import { registerMigrate, registerServe } from './cli/serve'
import { registerStats } from './cli/stats'
import { registerSuppressions } from './cli/suppressions'
import { registerUsers } from './cli/users'
import { registerWebhooks } from './cli/webhooks'
import { VERSION } from './version'

const program = new Command()
  .name('omnigate')
  .description('Self-hosted omni-channel messaging gateway')
  .version(VERSION)
  .option('-c, --config <file>', 'config file (default ./omnigate.toml; none = demo mode)')
  .option('--json', 'print JSON instead of tables')
  // A usage mistake is one line (commander's own, with a "did you mean" when it has one) and
  // exit 2; subcommands inherit this. `omnigate help <command>` shows the usage.
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text.replace(/\n(?=\(Did you mean)/, ' ')) })

registerServe(program)
registerMigrate(program)
registerConfig(program)
registerNamespaces(program)
registerProvisioning(program)
registerAdmin(program)
registerUsers(program)
registerMembers(program)
registerChannels(program)
registerMessages(program)
registerStats(program)
registerSuppressions(program)
registerWebhooks(program)
registerAudit(program)
registerKeysAndClients(program)
registerJobs(program)
registerBackup(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (!(error instanceof CommanderError)) process.exitCode = reportError(error)
  // Help and --version end with code 0; every usage mistake with 2.
  else process.exitCode = error.exitCode === 0 ? 0 : 2
}
