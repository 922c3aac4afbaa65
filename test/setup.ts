/** Test-process setup: the same warning filter the CLI installs (kafkajs' negative-timer noise). */
import { quietKnownWarnings } from '../src/telemetry/warnings.js';

quietKnownWarnings();
