/**
 * Storage of the state table's sorted sets. Importing this entry point loads the DynamoDB SDK;
 * import it lazily from code that runs in workers.
 */
export {
  StateTable, stateTableOf, type Claim, type ClaimResult, type DeleteCondition, type DynamoCommands, type ReadSetOptions, type SetPage,
  type StreamSetOptions,
} from './state-table.js';
export { fromItem, toItem, type EntryPayload, type EntryReason, type Item, type NewSetEntry, type SetEntry } from './set-items.js';
export {
  CronStore, cronStoreOf, type CronCommands, type CronRunRecord, type CronTickStore, type TickClaim, type TickClaimOptions,
} from './cron-store.js';
