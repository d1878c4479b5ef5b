import { decoderBenches } from './decoder.js';
import { interpreterBenches } from './interpreter.js';
import { nonRootBenches } from './non-root.js';
import { representationBenches } from './representation.js';

representationBenches();
interpreterBenches();
nonRootBenches();
decoderBenches();
