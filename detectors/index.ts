/**
 * The detector registry: one line per detector. Adding a detector never touches `src/`.
 */
import type { Detector } from '../src/detect/contract.js';
import impossibleTravel from './impossible_travel/index.js';
import keySpike from './key_spike/index.js';
import multiIpReplay from './multi_ip_replay/index.js';
import refreshReuse from './refresh_reuse/index.js';

export const detectors: readonly Detector[] = [
  impossibleTravel,
  keySpike,
  multiIpReplay,
  refreshReuse,
];
