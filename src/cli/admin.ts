/**
 * `omnigate admin create`: the instance's administrators. Passwords come from standard input (a
 * line) or a prompt that does not echo, never from an argument: arguments end up in shell
 * history and in every `ps` listing.
 */
import type { Command } from 'commander'
import { createInstanceAdmin, userView } from '../domain/identity/users'
import { action, globals, printJson, UsageError, withGateway } from './context'

/** The first line of standard input (without its line ending), read up to the newline. */
async function readLine(): Promise<string | null> {
  const reader = Bun.stdin.stream().getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (value) text += decoder.decode(value, { stream: true })
      const newline = text.indexOf('\n')
      if (newline >= 0) return text.slice(0, newline).replace(/\r$/, '')
      if (done) return text === '' ? null : text.replace(/\r$/, '')
    }
  } finally {
    reader.releaseLock()
  }
}

/** Asks on the terminal without echoing what is typed. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  return new Promise((resolve, reject) => {
    let chars: string[] = []
    const finish = () => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish()
          return resolve(chars.join(''))
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish()
          return reject(new UsageError('cancelled'))
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1)
        else chars.push(ch)
      }
    }
    stdin.on('data', onData)
  })
}

/**
 * A new password: prompted twice on a terminal, else the first line of standard input.
 * @example const password = await readNewPassword('password for alice@example.com')
 */
export async function readNewPassword(what: string): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden(`${what}: `)
    const again = await promptHidden('again: ')
    if (first !== again) throw new UsageError('the two passwords differ')
    return first
  }
  const line = await readLine()
  if (line === null || line === '') throw new UsageError('no password on standard input (pipe it in, e.g. from a secrets manager)')
  return line
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('instance administrators')
  admin
    .command('create')
    .description('create an instance admin, or make an existing user one; the password is read from standard input or prompted')
    .requiredOption('--email <email>', 'their e-mail address (the login)')
    .option('--name <name>', 'display name')
    .action(
      action(async (opts: { email: string; name?: string }, cmd: Command) => {
        const password = await readNewPassword(`password for ${opts.email}`)
        const { user, created } = await withGateway(cmd, (deps) => createInstanceAdmin(deps, { email: opts.email, name: opts.name, password }))
        if (globals(cmd).json) printJson({ ...userView(user), created })
        else console.log(`${created ? 'created' : 'promoted'} instance admin ${user.email} (${user.id})`)
      }),
    )
}
