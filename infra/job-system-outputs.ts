/**
 * The stack outputs of a JobSystem, which the CLI reads: their logical ids are the JobSystem's path
 * in its stack followed by the output id (`JobsQueueUrls` for `new JobSystem(stack, 'Jobs')`).
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The values of the outputs. */
export interface JobSystemOutputValues {
  /** JSON object of queue name to queue URL. */
  readonly queueUrls: string;
  readonly stateTableName: string;
  readonly retriesQueueUrl: string;
  readonly retriesDlqUrl: string;
  readonly limitsTableName: string;
  readonly apiUrl: string;
}

/**
 * Adds the outputs `QueueUrls`, `StateTableName`, `RetriesQueueUrl`, `RetriesDlqUrl`,
 * `LimitsTableName` and `ApiUrl` to `scope` (the JobSystem).
 */
export function addJobSystemOutputs(scope: Construct, values: JobSystemOutputValues): void {
  const prefix = outputPrefix(scope);
  const outputs: ReadonlyArray<readonly [string, string, string]> = [
    ['QueueUrls', values.queueUrls, 'Hopper: JSON object of queue name to SQS queue URL'],
    ['StateTableName', values.stateTableName, 'Hopper: state table (scheduled set, retry set, dead set)'],
    ['RetriesQueueUrl', values.retriesQueueUrl, 'Hopper: retries queue URL'],
    ['RetriesDlqUrl', values.retriesDlqUrl, 'Hopper: messages the retry function could not process'],
    ['LimitsTableName', values.limitsTableName, 'Hopper: limits table (rate limiters, quotas)'],
    ['ApiUrl', values.apiUrl, 'Hopper: HTTP API (Function URL, IAM auth: sign requests with SigV4, service lambda)'],
  ];
  for (const [id, value, description] of outputs) {
    new CfnOutput(scope, id, { value, description }).overrideLogicalId(`${prefix}${id}`);
  }
}

/**
 * The prefix of the outputs' logical ids: the construct's path inside its stack, letters and
 * digits only, so that `new JobSystem(stack, 'Jobs')` gives `JobsQueueUrls` — stable across
 * synths, which is what the CLI needs to find them.
 */
function outputPrefix(scope: Construct): string {
  const stackDepth = Stack.of(scope).node.scopes.length;
  return scope.node.scopes
    .slice(stackDepth)
    .map((node) => node.node.id.replace(/[^A-Za-z0-9]/g, ''))
    .join('');
}
