/**
 * `bun run build`: compiles src/main.ts into one self-contained executable, dist/omnigate.
 *
 *   bun scripts/build.ts [--outfile PATH] [--quiet]
 *
 * The executable embeds the code (as precompiled bytecode beside the source: start-up to /readyz
 * fell from ~240 to ~150 ms), split in chunks so that what is imported on first use (nodemailer,
 * the portal, the docs, prom-client, …) is not read by a gateway that never uses it (idle RSS
 * ~80 → ~72 MiB), the migrations and the Swagger UI assets (embedded files), and a
 * zstd-compressed source map (stack traces point at src/). It must not need node_modules at run
 * time: the build fails if any native part of libSQL (the `libsql` addon, `@libsql/client`'s node
 * entry, a `.node` file) got into the bundle — only `@libsql/client/web` belongs there — and
 * the result is smoke-tested from an empty directory (`--version`, then `migrate` on a temp
 * database, which runs the embedded SQL through bun:sqlite).
 *
 * The executable does not read `.env` or `bunfig.toml` from its working directory at run time
 * (Bun's default for compiled programs): configuration comes from the config file and the
 * environment only, and a stray bunfig.toml cannot preload code into the gateway.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = resolve(import.meta.dir, '..')
const { values: args } = parseArgs({
  args: Bun.argv.slice(2),
  options: { outfile: { type: 'string' }, quiet: { type: 'boolean', default: false } },
})
const outfile = resolve(args.outfile ?? join(root, 'dist', 'omnigate'))
const say = (line: string) => {
  if (!args.quiet) console.log(line)
}

/** Inputs that would make the binary depend on a native addon or on files beside it. */
const FORBIDDEN_INPUT = [
  /(^|\/)node_modules\/libsql\//, // the native libSQL addon package
  /(^|\/)node_modules\/@libsql\/(linux|darwin|win32)-/, // its prebuilt binaries
  /(^|\/)node_modules\/@libsql\/client\/lib-(esm|cjs)\/(node|sqlite3)\.js$/, // native client entry
  /\.node$/,
]

function fail(message: string): never {
  console.error(`build failed: ${message}`)
  // Never leave a half-checked executable where `dist/omnigate` is expected.
  rmSync(outfile, { force: true })
  rmSync(`${outfile}.map`, { force: true })
  process.exit(1)
}

const started = performance.now()
rmSync(outfile, { force: true })
let result: Awaited<ReturnType<typeof Bun.build>>
try {
  result = await Bun.build({
    entrypoints: [join(root, 'src', 'main.ts')],
    compile: { outfile, autoloadDotenv: false, autoloadBunfig: false },
    minify: true,
    bytecode: true,
    splitting: true,
    format: 'esm',
    sourcemap: 'linked',
    metafile: true,
  })
} catch (error) {
  // Bun.build throws an AggregateError of build messages when the build fails.
  const errors = error instanceof AggregateError ? error.errors : [error]
  for (const e of errors) console.error(String(e))
  fail('bundling src/main.ts')
}
if (!result.success) {
  for (const log of result.logs) console.error(String(log))
  fail('bundling src/main.ts')
}
for (const log of result.logs) console.error(String(log))

const inputs = Object.keys(result.metafile?.inputs ?? {})
const forbidden = inputs.filter((path) => FORBIDDEN_INPUT.some((re) => re.test(path)))
if (forbidden.length > 0) {
  fail(`native modules in the bundle (import @libsql/client/web, never @libsql/client):\n  ${forbidden.join('\n  ')}`)
}

// The source map is embedded in the executable; a linked .map beside it is not needed.
for (const output of result.outputs) {
  if (output.kind === 'sourcemap') rmSync(output.path, { force: true })
}
let size: number
try {
  size = statSync(outfile).size
} catch {
  fail(`${outfile} was not written`)
}
const buildMs = performance.now() - started

// Smoke test from an empty directory: no node_modules, no config, nothing beside the binary.
const empty = mkdtempSync(join(tmpdir(), 'omnigate-build-check-'))
try {
  const run = (argv: string[]) => {
    const proc = Bun.spawnSync([outfile, ...argv], {
      cwd: empty,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: empty, OMNIGATE_DATABASE_URL: `file:${join(empty, 'check.db')}` },
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: 30_000,
    })
    const out = proc.stdout.toString().trim()
    if (proc.exitCode !== 0) fail(`\`omnigate ${argv.join(' ')}\` exited ${proc.exitCode ?? proc.signalCode}: ${out} ${proc.stderr.toString().trim()}`)
    return out
  }
  const version = run(['--version'])
  const migrated = run(['migrate'])
  if (!migrated.startsWith('applied:')) fail(`\`omnigate migrate\` on an empty database printed "${migrated}"`)
  const mib = (size / 1024 / 1024).toFixed(1)
  say(`built ${relative(process.cwd(), outfile) || outfile} (omnigate ${version}): ${mib} MiB (${size} bytes), ${inputs.length} modules, ${Math.round(buildMs)} ms`)
} finally {
  rmSync(empty, { recursive: true, force: true })
}
