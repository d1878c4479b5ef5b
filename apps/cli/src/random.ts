/**
 * A deterministic xorshift32 generator, so two runs with one seed make the same accesses.
 *
 * @param seed - any integer; 0 is replaced by 1 (xorshift's one fixed point)
 * @returns a function giving numbers in [0, 1)
 */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}
