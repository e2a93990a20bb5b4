/** Placeholder until issue #4 builds it: channels of this type cannot be created yet. */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const discordConnector: Connector = {
  type: 'discord',
  capabilities: [],
  configSchema: z.never({ message: 'the discord connector is not available yet' }),
  secretKeys: [],
  async send() {
    throw new ConnectorError('permanent', 'not_available', 'the discord connector is not available yet')
  },
}
