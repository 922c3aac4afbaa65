/**
 * The gateway-adapter registry: one line per adapter. `canonical` is not an adapter: it means the
 * topic already carries v1 events and no adapter runs (DESIGN §2, `TOKENWATCH_INPUT_FORMAT`).
 */
import { ADAPTER_NAMES, type GatewayAdapter } from './types.js';
import apisix from './apisix/index.js';
import awsApigw from './aws-apigw/index.js';
import envoy from './envoy/index.js';
import haproxy from './haproxy/index.js';
import kong from './kong/index.js';
import nginx from './nginx/index.js';
import traefik from './traefik/index.js';

export { adapterReason, ADAPTER_NAMES } from './types.js';
export type { AdaptContext, AdaptResult, AdapterName, GatewayAdapter, RawSecret } from './types.js';

export const ADAPTERS: readonly GatewayAdapter[] = [
  nginx,
  haproxy,
  kong,
  apisix,
  envoy,
  traefik,
  awsApigw,
];

/** Values of `TOKENWATCH_INPUT_FORMAT`. */
export const INPUT_FORMATS = ['canonical', ...ADAPTER_NAMES] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

const byName = new Map<string, GatewayAdapter>(ADAPTERS.map((a) => [a.name, a]));

/**
 * The adapter for an input format; `undefined` for `canonical` (the topic already carries v1 events).
 * @throws Error when a name of ADAPTER_NAMES has no registered adapter (the conformance test prevents it)
 */
export function adapterFor(format: InputFormat): GatewayAdapter | undefined {
  if (format === 'canonical') return undefined;
  const adapter = byName.get(format);
  if (!adapter) throw new Error(`no adapter registered for input format "${format}"`);
  return adapter;
}

/** True when `value` is one of `INPUT_FORMATS` (for config validation). */
export function isInputFormat(value: string): value is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(value);
}
