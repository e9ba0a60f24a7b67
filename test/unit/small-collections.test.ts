import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetMultimap } from '../../src/server/util/small-collections';

describe('SetMultimap', () => {
  it('behaves exactly like Map<K, Set<V>> under any sequence of operations (property)', () => {
    const values = [{ n: 0 }, { n: 1 }, { n: 2 }];
    const op = fc.tuple(fc.constantFrom('add', 'delete', 'get'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const multimap = new SetMultimap<number, { n: number }>();
        const model = new Map<number, Set<{ n: number }>>();
        for (const [name, key, index] of ops) {
          const value = values[index]!;
          if (name === 'add') {
            multimap.add(key, value);
            model.set(key, (model.get(key) ?? new Set()).add(value));
          } else if (name === 'delete') {
            const expected = model.get(key)?.delete(value) ?? false;
            if (model.get(key)?.size === 0) model.delete(key);
            if (multimap.delete(key, value) !== expected) return false;
          }
          expect(new Set(multimap.get(key))).toEqual(model.get(key) ?? new Set());
          if (multimap.size !== model.size) return false;
        }
        return true;
      }),
    );
  });

  it('returns a snapshot, so values can be removed while iterating them', () => {
    const multimap = new SetMultimap<string, { n: number }>();
    const a = { n: 1 };
    const b = { n: 2 };
    multimap.add('s', a);
    multimap.add('s', b);
    for (const value of multimap.get('s')) multimap.delete('s', value);
    expect(multimap.size).toBe(0);
  });
});
