/**
 * `defineJobs`: a worker's jobs with their argument types, so that a producer's compiler checks the
 * jobtype and arguments of every enqueue (`new Client<typeof jobs>()`), and, where a job gives a
 * Standard Schema of its arguments, so that the worker checks them before it runs: a job whose
 * arguments do not match goes to the dead set at once, its error naming the field.
 */
import { ConfigurationError } from '../errors/base.js';
import { InvalidJobArgsError } from '../errors/worker.js';
import { issuePath, type StandardSchemaV1 } from '../job/typed.js';
import type { JobContext, JobDefinition, JobHandler, ValidatedJob } from './types.js';

/**
 * A job whose arguments `schema` checks before `run` gets them, typed from the schema.
 *
 * @example
 * const SendEmail = withArgs(z.tuple([z.string().email(), z.number().int()]), async ([to, templateId], ctx) => { … });
 */
export function withArgs<Args>(schema: StandardSchemaV1<unknown, Args>, run: (args: Args, ctx: JobContext) => unknown): ValidatedJob<Args> {
  return { args: schema, run };
}

/**
 * Declares a worker's jobs with their types. Returns `jobs` as it is, checked: pass it to
 * `createWorker({ jobs })`, and its type to the producers' `Client`.
 *
 * @throws ConfigurationError naming a job that is neither a function nor `{ args, run }`.
 * @example
 * export const jobs = defineJobs({
 *   SendEmail: async ([to, templateId]: [string, number], ctx) => { ctx.logger.info('sending', { to, templateId }); },
 * });
 * export const handler = createWorker({ jobs });
 * // elsewhere: await new Client<typeof jobs>().enqueue('SendEmail', ['a@example.com', 42]);
 */
export function defineJobs<const Jobs extends Readonly<Record<string, JobDefinition>>>(jobs: Jobs): Jobs {
  for (const [jobtype, job] of Object.entries(jobs)) toHandler(jobtype, job);
  return jobs;
}

/**
 * The plain handler of a job: the function itself, or one that validates the arguments first.
 *
 * @throws ConfigurationError when `job` is neither.
 */
export function toHandler(jobtype: string, job: unknown): JobHandler {
  if (typeof job === 'function') return job as JobHandler;
  if (typeof job === 'object' && job !== null && 'run' in job && typeof job.run === 'function') {
    const run = job.run as JobHandler;
    if (!('args' in job)) return run;
    const schema = job.args;
    if (!isStandardSchema(schema)) {
      throw new ConfigurationError(`jobs.${jobtype}.args must be a Standard Schema (an object with a "~standard" validator, as Zod, Valibot and ArkType schemas are), but it is not`);
    }
    return async (args, ctx) => {
      const result = await schema['~standard'].validate(args);
      if (result.issues !== undefined) throw new InvalidJobArgsError(jobtype, result.issues.map((issue) => `${issuePath(issue)}: ${issue.message}`));
      return run(result.value as readonly unknown[], ctx);
    };
  }
  throw new ConfigurationError(`jobs.${jobtype} must be a handler function or { args, run }, but ${job === null ? 'null' : typeof job} was provided`);
}

function isStandardSchema(value: unknown): value is StandardSchemaV1<unknown, unknown> {
  if (typeof value !== 'object' && typeof value !== 'function') return false;
  const standard: unknown = value === null ? undefined : (value as Record<string, unknown>)['~standard'];
  return typeof standard === 'object' && standard !== null && 'validate' in standard && typeof standard.validate === 'function';
}
