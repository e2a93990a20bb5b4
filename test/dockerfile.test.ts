/**
 * The Dockerfile's defaults never override a mounted config: it sets no OMNIGATE_* variables
 * (they win over the file, so a config's [database] url and [server] listen were silently lost:
 * instances meant to share a libSQL server each ran on a private file). The default database
 * path lands in the volume from the working directory, and the listen address is a flag of the
 * default command only. (Read, not built: no Docker daemon runs here.)
 */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { configSchema } from '../src/config'

const dockerfile = readFileSync(join(import.meta.dir, '..', 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ')
const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
const instruction = (name: string) => [...runtime.matchAll(new RegExp(`^${name} (.+)$`, 'gm'))].map((m) => m[1]!.trim())

test('the image sets no OMNIGATE_* variable: a mounted config keeps its own settings', () => {
  expect(instruction('ENV').join(' ')).not.toContain('OMNIGATE_')
})

test('the default database file is in the /data volume, and the default command listens on 0.0.0.0:8080', () => {
  const [workdir] = instruction('WORKDIR').slice(-1)
  const defaultUrl = configSchema.parse({}).database.url
  expect(defaultUrl).toBe('file:./data/omnigate.db')
  expect(resolve(workdir!, defaultUrl.slice('file:'.length))).toBe('/data/omnigate.db')
  expect(instruction('VOLUME')).toEqual(['/data'])
  expect(JSON.parse(instruction('CMD').at(-1)!)).toEqual(['serve', '--listen', '0.0.0.0:8080'])
})
