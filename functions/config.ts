/**
 * The configuration function: the custom resource that writes the configuration document into the
 * state table at deploy (lib/config/writer.ts), so that queues, crons, quotas and tenants are not
 * bounded by Lambda's 4 KB environment.
 */
import { createConfigWriter } from '../lib/config/writer.js';

export const handler = createConfigWriter();
