import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lib/job/canonical-json.js';

describe('canonicalJson', () => {
  it.each([
    { value: null, text: 'null' },
    { value: true, text: 'true' },
    { value: 'é "q"\n', text: '"é \\"q\\"\\n"' },
    { value: 1.5e21, text: '1.5e+21' },
    { value: -0, text: '0' },
    { value: 10.0, text: '10' },
    { value: [3, 'a', null], text: '[3,"a",null]' },
    { value: { b: 1, a: { d: [], c: {} } }, text: '{"a":{"c":{},"d":[]},"b":1}' },
  ])('writes $text', ({ value, text }) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('gives the same text whatever the order keys were written in', () => {
    const a = { user: { id: 7, name: 'Ada' }, flags: ['x'] };
    const b = JSON.parse('{"flags":["x"],"user":{"name":"Ada","id":7}}');

    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"flags":["x"],"user":{"id":7,"name":"Ada"}}');
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 asks', () => {
    expect(canonicalJson({ b: 1, B: 2, '\u00e9': 3, a: 4 })).toBe('{"B":2,"a":4,"b":1,"é":3}');
  });

  it('leaves out object members that are undefined, as JSON does', () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
  });

  it('names the path of a value that has no JSON form', () => {
    expect(() => canonicalJson([1, { n: Number.NaN }], 'args')).toThrow('invalid job: args[1].n must be a finite number, but NaN was provided');
    expect(() => canonicalJson({ f: () => 1 }, 'args')).toThrow('invalid job: args.f must be a JSON value, but a function was provided');
    expect(() => canonicalJson([undefined], 'args')).toThrow('invalid job: args[0] must be a JSON value, but undefined was provided');
    expect(() => canonicalJson(10n, 'args')).toThrow('invalid job: args must be a JSON value, but a bigint was provided');
  });
});
