/** Placeholder until issue #4 builds it: channels of this type cannot be created yet. */
import { z } from 'zod'
import { type Connector, ConnectorError } from './types'

export const whatsappCloudConnector: Connector = {
  type: 'whatsapp-cloud',
  capabilities: [],
  configSchema: z.never({ message: 'the whatsapp-cloud connector is not available yet' }),
  secretKeys: [],
  async send() {
    throw new ConnectorError('permanent', 'not_available', 'the whatsapp-cloud connector is not available yet')
  },
}
