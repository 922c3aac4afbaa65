/**
 * The JSON Schema of the canonical access event, generated from the zod schema (never written by
 * hand). Committed as schemas/event.schema.json; a unit test fails when that file is stale.
 */
import { z } from 'zod';
import { AccessEventInputSchema } from './event.js';

export function eventJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(AccessEventInputSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://tokenwatch.dev/schemas/access-event.v1.json',
    title: 'tokenwatch canonical access event, schema v1',
    description: 'One JSON object per Kafka message on the input topic. Unknown extra fields are ignored. See DESIGN §2.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
