// Decoder throughput, and the long decoder-oracle run (a million random sequences against
// iced-x86; the unit test runs 200 000).
import { decode } from '@vmkit/cpu';
import { emit, opsPerSecond } from '@vmkit/test-kit';
import { runOracle } from '../test/support/decoder-oracle.js';

/** Runs the decoder benchmarks. */
export function decoderBenches(): void {
  // A mix of common compiled-code encodings: mov r64, [base+index*8+disp8]; add r32, r32;
  // lock cmpxchg [rdi], ecx; movabs; jne rel32; call rel32; nopw cs:[rax+rax].
  const mix = [
    [0x4a, 0x8b, 0x44, 0xc8, 0x10],
    [0x01, 0xc8],
    [0xf0, 0x0f, 0xb1, 0x0f],
    [0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8],
    [0x0f, 0x85, 0x10, 0, 0, 0],
    [0xe8, 0, 1, 0, 0],
    [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0],
  ];
  let sink = 0;
  emit({
    metric: 'cpu.decode',
    value: opsPerSecond(() => {
      for (const bytes of mix) sink += decode((i) => bytes[i]!).length;
    }, mix.length),
    unit: 'instructions/s',
  });
  const t = performance.now();
  const r = runOracle(0xbe7c4, 1_000_000);
  emit({
    metric: 'cpu.decoder-oracle.mismatches',
    value: r.mismatches.length,
    unit: 'count',
    sequences: r.compared,
    decodedByBoth: r.decoded,
    seconds: (performance.now() - t) / 1000,
  });
  if (r.mismatches.length > 0) console.error(r.mismatches);
  if (sink < 0) console.log(sink);
}
