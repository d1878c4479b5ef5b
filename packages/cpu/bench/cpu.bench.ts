import { decoderBenches } from './decoder.js';
import { interpreterBenches } from './interpreter.js';
import { representationBenches } from './representation.js';

representationBenches();
interpreterBenches();
decoderBenches();
