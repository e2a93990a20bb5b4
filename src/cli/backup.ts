/**
 * `omnigate backup FILE` (an online, consistent copy through SQLite's `VACUUM INTO`, safe while
 * the server runs) and `omnigate restore FILE` (puts a backup in place of the database; the
 * server must be stopped). Embedded `file:` databases only: a libSQL server has its own backups.
 */
import { Database } from 'bun:sqlite'
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import { migrations as known } from '../../migrations/index'
import type { Config } from '../config'
import { storeOptions } from '../gateway'
import { databaseFilePath, openStore } from '../store/open'
import { action, globals, loadCliConfig, printJson, UsageError } from './context'

/** The database file of a `file:` URL, or a clear refusal for any other store. */
export function databaseFile(config: Config, command: string): string {
  const url = config.database.url
  if (url === ':memory:' || url === 'file::memory:') throw new UsageError(`${command}: database.url is an in-memory database; there is nothing to ${command}`)
  if (!url.startsWith('file:')) {
    throw new UsageError(
      `${command}: only embedded file: databases can be backed up and restored here (database.url is ${url.split(':')[0]}:); use the libSQL server's own backups`,
    )
  }
  return resolve(databaseFilePath(url)!)
}

/** What a restore would put in place: an omnigate database whose migrations this omnigate knows. */
export function inspectBackup(file: string): { migration: string; latest: string } {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`restore: ${file} does not exist or is not a file`)
  // A live database's recent commits sit in its WAL, which a copy of the main file would lose.
  if (existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0) {
    throw new UsageError(`restore: ${file} has a write-ahead log beside it: it is a live database, not a backup; make one with "omnigate backup"`)
  }
  let db: Database
  try {
    db = new Database(file, { readonly: true })
  } catch (error) {
    throw new UsageError(`restore: ${file} cannot be opened as a database: ${(error as Error).message}`)
  }
  try {
    let check: { quick_check: string }[]
    try {
      check = db.query('PRAGMA quick_check').all() as { quick_check: string }[]
    } catch {
      throw new UsageError(`restore: ${file} is not an SQLite database`)
    }
    if (check[0]?.quick_check !== 'ok') throw new UsageError(`restore: ${file} is damaged (integrity check: ${check[0]?.quick_check ?? 'no answer'})`)
    const table = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'omnigate_migrations'").get()
    if (!table) throw new UsageError(`restore: ${file} is not an omnigate database (it has no omnigate_migrations table)`)
    const applied = db.query('SELECT idx, tag FROM omnigate_migrations ORDER BY idx').all() as { idx: number; tag: string }[]
    if (applied.length === 0) throw new UsageError(`restore: ${file} is not an omnigate database (no migration was ever applied to it)`)
    const tags = new Map(known.map((m) => [m.idx, m.tag]))
    for (const m of applied) {
      if (tags.get(m.idx) !== m.tag) {
        throw new UsageError(`restore: ${file} has schema migration ${m.tag}, which this omnigate does not know (latest ${known.at(-1)?.tag}); restore it with the omnigate that made it`)
      }
    }
    return { migration: applied.at(-1)!.tag, latest: known.at(-1)!.tag }
  } finally {
    db.close()
  }
}

export function registerBackup(program: Command): void {
  program
    .command('backup <file>')
    .description('write a consistent copy of the database to FILE, online (SQLite VACUUM INTO)')
    .action(
      action(async (file: string, _opts: unknown, cmd: Command) => {
        const { config } = loadCliConfig(globals(cmd))
        const source = databaseFile(config, 'backup')
        const target = resolve(file)
        if (!existsSync(source)) throw new UsageError(`backup: there is no database at ${source} (database.url)`)
        if (existsSync(target)) throw new UsageError(`backup: ${target} already exists; choose a new file name`)
        if (!existsSync(dirname(target))) throw new UsageError(`backup: the directory ${dirname(target)} does not exist`)
        if (target === source) throw new UsageError('backup: the backup file cannot be the database itself')
        const store = await openStore(storeOptions(config))
        try {
          // Through the writer connection: a snapshot of everything committed so far.
          await store.exec(`VACUUM INTO '${target.replaceAll("'", "''")}'`)
        } finally {
          await store.close()
        }
        if (globals(cmd).json) printJson({ backup: target, bytes: statSync(target).size })
        else console.log(`backup written to ${target} (${statSync(target).size} bytes)`)
      }),
    )

  program
    .command('restore <file>')
    .description('replace the database by a backup made with "omnigate backup" (stop the server first)')
    .option('--force', 'replace an existing database')
    .action(
      action(async (file: string, opts: { force?: boolean }, cmd: Command) => {
        const { config } = loadCliConfig(globals(cmd))
        const target = databaseFile(config, 'restore')
        const source = resolve(file)
        if (source === target) throw new UsageError('restore: the backup file is the database itself')
        const { migration, latest } = inspectBackup(source)
        const wal = `${target}-wal`
        const shm = `${target}-shm`
        if ((existsSync(target) || existsSync(wal)) && !opts.force) {
          throw new UsageError(
            `restore: a database exists at ${target}; stop the server, then run again with --force to replace it (consider "omnigate backup" of it first)`,
          )
        }
        if (existsSync(target)) refuseIfOpen(target, 'restore')
        // A fresh machine: the data directory is made, as serve would make it.
        mkdirSync(dirname(target), { recursive: true })
        // Copied beside the target, then renamed over it: the database is never half-written.
        const staging = `${target}.restoring`
        copyFileSync(source, staging)
        // The old database's WAL would be replayed into the restored file: it goes first.
        rmSync(wal, { force: true })
        rmSync(shm, { force: true })
        renameSync(staging, target)
        if (globals(cmd).json) return printJson({ restored: target, from: source, schema: migration, latest })
        console.log(`restored ${source} to ${target} (schema ${migration}${migration === latest ? '' : `; "omnigate migrate" or serve brings it to ${latest}`})`)
      }),
    )
}

/**
 * Refuses to replace a database another process has open (a running gateway would go on
 * acknowledging writes into the replaced file, lost when it stops). An exclusive lock on a WAL
 * database is refused while any other connection has it open, even an idle one.
 */
export function refuseIfOpen(target: string, command: string): void {
  // A gateway's connection has a -shm beside the database, at least one 32 KiB region: without
  // one (or with a stub left by something else) nobody has it open, and the lock below would
  // stumble on the stub instead.
  const shm = `${target}-shm`
  if (!existsSync(shm) || statSync(shm).size < 32 * 1024) return
  let db: Database | undefined
  try {
    db = new Database(target)
    db.run('PRAGMA busy_timeout = 0')
    db.run('PRAGMA locking_mode = EXCLUSIVE')
    db.run('BEGIN EXCLUSIVE')
    db.run('ROLLBACK')
  } catch (error) {
    if (/locked|busy/i.test(String(error))) {
      throw new UsageError(`${command}: the database at ${target} is open in another process (a running gateway?); stop it first`)
    }
    // Anything else (a damaged -wal or -shm beside it, say) is what the restore replaces anyway.
  } finally {
    db?.close()
  }
}
