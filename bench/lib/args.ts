/** Command-line values of the bench scripts. */

/** `text` as a positive integer; the error names the option and what was given. */
export function positiveInt(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, but ${JSON.stringify(text)} was provided`);
  return value;
}
