/**
 * Typed jobs: the types that let a producer's compiler check a jobtype and its argument tuple
 * against the handlers a worker defines (`defineJobs`, lib/worker/jobs.ts), and the Standard Schema
 * interface a job's runtime validation takes. The wire format stays the Faktory JSON: types are
 * erased, and any language can still produce and consume the same jobs.
 */

/** A path element of a Standard Schema issue. */
export type StandardPathSegment = PropertyKey | { readonly key: PropertyKey };

/** One problem a Standard Schema found. */
export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<StandardPathSegment> | undefined;
}

/** What a Standard Schema's `validate` answers. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/**
 * A validator following the Standard Schema specification (version 1), as Zod, Valibot, ArkType and
 * others expose it on their schemas: Hopper takes it without depending on any of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/**
 * A job as a producer sees it: a handler taking its argument tuple first, or a handler with a
 * schema of its arguments. The context's type is the worker's business.
 */
export type JobShape =
  | ((args: never, ctx: never) => unknown)
  | { readonly args: StandardSchemaV1<unknown, unknown>; readonly run: (args: never, ctx: never) => unknown };

/** Jobs by jobtype, as `defineJobs` returns them. */
export type JobShapes = Readonly<Record<string, JobShape>>;

/** The argument tuple of a job: its handler's first parameter. */
export type JobArgs<Job> =
  Job extends { readonly run: (...params: infer Params) => unknown } ? FirstOf<Params>
  : Job extends (...params: infer Params) => unknown ? FirstOf<Params>
  : readonly unknown[];

type FirstOf<Params> = Params extends readonly [infer First, ...unknown[]] ? First : readonly unknown[];

/** Any jobtype with any arguments: what an untyped `Client` accepts. */
export type UntypedJobs = Readonly<Record<string, (args: readonly unknown[], ctx: never) => unknown>>;

/** Where a message names the place of an issue: `args[1].email`. */
export function issuePath(issue: StandardIssue): string {
  let path = 'args';
  for (const segment of issue.path ?? []) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment;
    path += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return path;
}
