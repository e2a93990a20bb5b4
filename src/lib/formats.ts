/** Formats shared by the config file and the domain, defined once. */

/** Namespace slugs and channel names: they appear in URLs. */
export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

export const API_KEY_PREFIX = 'og_live_'
/** 24 characters after the prefix: ~143 bits even for an operator-chosen base62 key. */
export const API_KEY_MIN_SECRET_CHARS = 24
/** How many characters after the prefix find a key without its secret. */
const API_KEY_LOOKUP_CHARS = 12

export function isWellFormedApiKey(key: string): boolean {
  return key.startsWith(API_KEY_PREFIX) && key.length >= API_KEY_PREFIX.length + API_KEY_MIN_SECRET_CHARS && key.length <= 128
}

export function apiKeyLookup(key: string): string {
  return key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + API_KEY_LOOKUP_CHARS)
}
