/** Reads a property of an unknown value: undefined unless `value` is an object that has it. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}
