/** Errors of the admin operations on the scheduled, retry and dead sets. */
import { HopperError } from './base.js';

/** An id that is not `<13-digit due time in ms>#<jid>`. */
export class InvalidEntryIdError extends HopperError {
  static override readonly errorName: string = 'InvalidEntryIdError';
  readonly id: string;

  constructor(id: string) {
    super(`id must be <13-digit due time in epoch ms>#<jid> (as list returns it), but ${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)} was provided`);
    this.id = id;
  }
}
