/**
 * A value to keep as JSON in a state-table item (a `ctx.once` step's value, a tracked job's
 * result): its JSON text, or why it cannot be kept.
 */

/** `value` as JSON within `maxBytes`: `{ json }` (undefined for a value JSON leaves out), or `{ unkept }` with the reason. */
export function keptJson(value: unknown, maxBytes: number, what: string): { readonly json: string | undefined; readonly unkept?: undefined } | { readonly json?: undefined; readonly unkept: string } {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return { unkept: `${what} is not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  if (text === undefined) return { json: undefined };
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) return { unkept: `${what} is ${bytes.toLocaleString('en-US')} bytes as JSON, over the ${maxBytes.toLocaleString('en-US')} kept` };
  return { json: text };
}
