#!/usr/bin/env bun
/** omnigate: the command line. Each command group lives in src/cli/. */
import { Command, CommanderError } from 'commander'
import { registerAdmin } from './cli/admin'
import { registerAudit } from './cli/audit'
import { registerChannels } from './cli/channels'
import { registerConfig } from './cli/config'
import { reportError } from './cli/context'
import { registerKeysAndClients } from './cli/keys'
import { registerMembers } from './cli/members'
import { registerMessages } from './cli/messages'
import { registerNamespaces } from './cli/namespaces'
import { registerMigrate, registerServe } from './cli/serve'
import { registerSuppressions } from './cli/suppressions'
import { registerWebhooks } from './cli/webhooks'
import { VERSION } from './version'

const program = new Command()
  .name('omnigate')
  .description('Self-hosted omni-channel messaging gateway')
  .version(VERSION)
  .option('-c, --config <file>', 'config file (default ./omnigate.toml; none = demo mode)')
  .option('--json', 'print JSON instead of tables')
  .showHelpAfterError()

registerServe(program)
registerMigrate(program)
registerConfig(program)
registerNamespaces(program)
registerAdmin(program)
registerMembers(program)
registerChannels(program)
registerMessages(program)
registerSuppressions(program)
registerWebhooks(program)
registerAudit(program)
registerKeysAndClients(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (!(error instanceof CommanderError)) process.exitCode = reportError(error)
  else process.exitCode = error.exitCode
}
