/** The producer: a Lambda function that enqueues a receipt for an order. */
import { Client } from 'hopper-jobs/client';

// Queue URLs come from the environment that jobs.grantEnqueue gave this function.
const client = new Client();

/** The event this function is invoked with. */
export interface OrderPlaced {
  readonly orderId: string;
  readonly email: string;
}

export const handler = async (event: OrderPlaced): Promise<{ jid: string }> => {
  const jid = await client.enqueue({ jobtype: 'SendReceipt', args: [event.orderId, event.email] });
  return { jid };
};
