/** The CLI as an operator runs it: `omnigate …` (src/main.ts) in a process of its own. */
import { join } from 'node:path'

export const CLI_MAIN = join(import.meta.dir, '..', '..', 'src', 'main.ts')

/** A config for the file database `db` whose master key comes from TEST_MASTER_KEY, plus `extra` TOML. */
export function keyedConfig(db: string, extra = ''): string {
  return `[database]\nurl = "file:${db}"\n[security]\nmaster_key = "\${TEST_MASTER_KEY}"\n${extra}`
}

/** Runs `omnigate ...args` in `cwd`, TEST_MASTER_KEY set to `masterKey`. */
export function runCli(args: string[], opts: { cwd: string; masterKey: string; stdin?: string }) {
  const proc = Bun.spawnSync([process.execPath, CLI_MAIN, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH ?? '', TEST_MASTER_KEY: opts.masterKey },
    stdin: opts.stdin === undefined ? 'ignore' : Buffer.from(opts.stdin),
  })
  return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() }
}
