import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmallMap, SmallSet } from '../../src/server/util/small-collections';

describe('SmallMap and SmallSet', () => {
  it('behave exactly like Map and Set under any sequence of operations (property)', () => {
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'get', 'has'), fc.integer({ min: 0, max: 4 }), fc.integer());
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const small = new SmallMap<number, number>();
        const real = new Map<number, number>();
        const smallSet = new SmallSet<number>();
        const realSet = new Set<number>();
        for (const [name, key, value] of ops) {
          if (name === 'set') {
            small.set(key, value);
            real.set(key, value);
            smallSet.add(key);
            realSet.add(key);
          } else if (name === 'delete') {
            if (small.delete(key) !== real.delete(key)) return false;
            if (smallSet.delete(key) !== realSet.delete(key)) return false;
          } else if (name === 'get') {
            if (small.get(key) !== real.get(key)) return false;
          } else if (small.has(key) !== real.has(key) || smallSet.has(key) !== realSet.has(key)) {
            return false;
          }
          if (small.size !== real.size || smallSet.size !== realSet.size) return false;
        }
        expect([...small.values()].sort()).toEqual([...real.values()].sort());
        expect([...smallSet].sort()).toEqual([...realSet].sort());
        return true;
      }),
    );
  });
});
