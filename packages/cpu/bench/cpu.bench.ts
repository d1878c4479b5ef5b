import { representationBenches } from './representation.js';

representationBenches();
