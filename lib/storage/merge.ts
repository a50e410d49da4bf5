/**
 * K-way merge of sorted async sequences: how a reader walks the shards of a sorted set in time
 * order while reading each shard one page at a time, so that it reads about as many items as it
 * uses instead of a full page from every shard.
 */

/**
 * Yields the items of every source in the order `compare` gives, assuming each source is sorted
 * the same way. Sources are started together; a source is pulled again only when its current item
 * has been yielded.
 */
export async function* mergeSorted<T>(sources: readonly AsyncIterable<T>[], compare: (a: T, b: T) => number): AsyncGenerator<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const heads: (IteratorResult<T> | undefined)[] = await Promise.all(iterators.map((iterator) => iterator.next()));
  try {
    while (true) {
      let best = -1;
      let bestValue: T | undefined;
      heads.forEach((head, index) => {
        if (head === undefined || head.done === true) return;
        if (best === -1 || bestValue === undefined || compare(head.value, bestValue) < 0) {
          best = index;
          bestValue = head.value;
        }
      });
      const iterator = iterators[best];
      if (best === -1 || iterator === undefined || bestValue === undefined) return;
      yield bestValue;
      heads[best] = await iterator.next();
    }
  } finally {
    // A consumer that stops early (a sweep out of time) releases every source.
    await Promise.all(iterators.map((iterator) => iterator.return?.()));
  }
}
