/** The worker: one handler per jobtype. */
import { createWorker } from 'hopper-jobs/worker';

/** The payment provider refused the card. */
export class CardDeclined extends Error {}

/** Charges above this many cents are declined (a stand-in for a payment provider). */
const CARD_LIMIT_CENTS = 50_000;

export const handler = createWorker({
  jobs: {
    SendReceipt: async ([orderId, email], ctx) => {
      ctx.logger.info('receipt sent', { orderId, email });
    },
    ChargeCard: async ([orderId, cents], ctx) => {
      if (typeof cents !== 'number' || cents > CARD_LIMIT_CENTS) {
        throw new CardDeclined(`card declined for order ${String(orderId)}`);
      }
      ctx.logger.info('card charged', { orderId, cents });
    },
  },
});
