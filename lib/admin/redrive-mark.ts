/**
 * The message attribute the admin redrive puts on what it moves back to the retries queue, so the
 * retry function tells the team's client middleware that the job comes back by redrive
 * (`ctx.via === 'redrive'`). Ten bytes or so per message; SQS counts attributes in the message size.
 */
export const REDRIVE_MARK = { attribute: 'HopperVia', value: 'redrive' } as const;
