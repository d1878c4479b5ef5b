export { describeGuestMemory, type GuestMemoryFixture } from './conformance.js';
