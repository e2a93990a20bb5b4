import type { Command } from 'commander'
import { checkConfigFile } from '../config'
import { action } from './context'

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration files')
  config
    .command('check <file>')
    .description('validate a config file; prints every error with its key path')
    .action(
      action(async (file: string) => {
        const issues = checkConfigFile(file)
        if (issues.length === 0) {
          console.log(`${file}: ok`)
          return
        }
        for (const issue of issues) process.stderr.write(`${file}: ${issue.path}: ${issue.message}\n`)
        process.exitCode = 1
      }),
    )
}
