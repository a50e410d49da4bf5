/**
 * What Lambda refuses when CloudFormation creates the functions, checked before anything starts:
 * an environment over 4 KB, and reservations that leave the account too little unreserved
 * concurrency.
 */
import { LAMBDA_LIMITS, environmentProblem } from '../../lib/aws/lambda-limits.js';
import { TemplateError } from '../template/model.js';
import type { FunctionSpec } from './function.js';
import { RESOURCE_TYPES } from './plan.js';

/**
 * Throws for the first function whose environment Lambda would refuse (`InvalidParameterValueException`:
 * "…exceeded the 4KB limit"), naming it and its largest variables.
 *
 * @throws TemplateError naming the function.
 */
export function checkEnvironmentSizes(functions: readonly FunctionSpec[]): void {
  for (const spec of functions) {
    const problem = environmentProblem(spec.environment);
    if (problem !== undefined) throw new TemplateError(spec.logicalId, RESOURCE_TYPES.function, `Lambda refuses this function: ${problem}. Move what grows out of the environment (a configuration file in the bundle, a parameter read once per instance)`);
  }
}

/**
 * Throws when the functions' reserved concurrency leaves less unreserved concurrency than Lambda
 * requires (100, or the whole limit when the account's is lower).
 *
 * @throws TemplateError naming the function that crosses the line.
 */
export function checkReservedConcurrency(functions: readonly FunctionSpec[], accountConcurrency: number): void {
  const minimum = Math.min(LAMBDA_LIMITS.minimumUnreservedConcurrency, accountConcurrency);
  let reserved = 0;
  for (const spec of functions) {
    if (spec.reservedConcurrency === undefined) continue;
    reserved += spec.reservedConcurrency;
    if (accountConcurrency - reserved < minimum) {
      throw new TemplateError(
        spec.logicalId,
        RESOURCE_TYPES.function,
        `Properties.ReservedConcurrentExecutions ${spec.reservedConcurrency} would leave ${accountConcurrency - reserved} of the account's ${accountConcurrency} concurrent executions unreserved; Lambda keeps at least ${minimum} unreserved`,
      );
    }
  }
}
