/**
 * A base URL derived from a wildcard listen address (the Docker image's 0.0.0.0:8080 without
 * server.public_url) is warned about at start-up, naming the key: provider callbacks,
 * unsubscribe and mailed links would point at http://0.0.0.0:… (it was accepted without a word).
 */
import { expect, test } from 'bun:test'
import { configSchema, publicUrlWarning } from '../src/config'

const config = (server: Record<string, string>) => configSchema.parse({ server })

test('a wildcard listen address without public_url is named; a real host or a public_url is not', () => {
  expect(publicUrlWarning(config({ listen: '0.0.0.0:8080' }))).toStartWith('server.public_url is not set, so the gateway\'s own URL is http://0.0.0.0:8080')
  expect(publicUrlWarning(config({ listen: '[::]:8080' }))).toContain('server.public_url')
  expect(publicUrlWarning(config({ listen: '127.0.0.1:8080' }))).toBeNull()
  expect(publicUrlWarning(config({ listen: '0.0.0.0:8080', public_url: 'https://gw.example.com' }))).toBeNull()
})
