/**
 * Opt-out and opt-in keywords on conversational channels: the words carriers and WhatsApp
 * treat as STOP / START (CTIA: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, YES,
 * UNSTOP), and Telegram's /stop and /start commands.
 */
const STOP_WORDS = new Set(['stop', 'stopall', 'unsubscribe', 'cancel', 'end', 'quit', 'optout', 'opt-out', 'opt out', 'revoke'])
const START_WORDS = new Set(['start', 'unstop', 'yes', 'subscribe', 'optin', 'opt-in', 'opt in'])
const CONVERSATIONAL = new Set(['twilio-sms', 'whatsapp-cloud', 'telegram'])

/** 'stop' or 'start' when the whole message is such a keyword on a conversational channel. */
export function optOutIntent(channelType: string, text: string | undefined): 'stop' | 'start' | null {
  if (!text || !CONVERSATIONAL.has(channelType)) return null
  const word = text
    .trim()
    .toLowerCase()
    .replace(/[.!\s]+$/, '')
    .replace(/@\w+$/, '')
  if (channelType === 'telegram') return word === '/stop' ? 'stop' : word === '/start' ? 'start' : null
  if (STOP_WORDS.has(word)) return 'stop'
  if (START_WORDS.has(word)) return 'start'
  return null
}
