/** Placeholder until issue #4 builds it: channels of this type cannot be created yet. */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const telegramConnector: Connector = {
  type: 'telegram',
  capabilities: [],
  configSchema: z.never({ message: 'the telegram connector is not available yet' }),
  secretKeys: [],
  async send() {
    throw new ConnectorError('permanent', 'not_available', 'the telegram connector is not available yet')
  },
}
