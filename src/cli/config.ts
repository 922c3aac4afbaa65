/** `tokenwatch config`: validates the configuration and prints the effective settings (no secrets). */
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../config/index.js';

export async function cmdConfig(_args: string[] = []): Promise<void> {
  const config = loadConfig(detectors);
  const shown = { ...config, fpKey: config.fpKey ? '[set]' : '[not set]', clickhouse: { ...config.clickhouse, password: config.clickhouse.password ? '[set]' : '' } };
  process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
}
