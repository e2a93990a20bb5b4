/**
 * `[[plans]]` replaces the built-in plans, so `[signup] default_plan` (default "free") is checked
 * against them: a config without that plan is refused by `omnigate config check` and at start,
 * naming signup.default_plan. (It passed, and then every verified signup, every `namespace
 * create --owner` without --plan and every POST /v1/provisioning without "plan" failed.)
 */
import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { checkConfigFile } from '.'
import { generateMasterKey } from '../lib/secrets'
import { tempDir } from '../../test/helpers/stores'

test('config check names signup.default_plan when it is not one of [[plans]]', async () => {
  const dir = tempDir()
  try {
    const file = join(dir.path, 'omnigate.toml')
    await Bun.write(
      file,
      `[security]\nmaster_key = "${generateMasterKey()}"\n\n[[plans]]\nname = "starter"\nmessages_per_day = 100\nmessages_per_month = 1000\nrequests_per_second = 10\n`,
    )
    const issues = checkConfigFile(file, {})
    expect(issues.map((i) => i.path)).toContain('signup.default_plan')
  } finally {
    dir.cleanup()
  }
})
