/**
 * `tokenwatch replay` reads a file the way Kafka would carry its lines (src/pipeline/replay.ts):
 * one message per LF, bytes as they are, U+2028 / U+2029 / bare CR inside JSON strings kept, and a
 * blank or white-space line dead-lettered `empty` as `run` does with such a message.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import pino from 'pino';
import { detectors } from '../../detectors/index.js';
import { loadConfig } from '../../src/config/index.js';
import { lines, replay } from '../../src/pipeline/replay.js';
import { event, replayAttack } from '../fixtures/events.js';
import { T0 } from '../support/services.js';

const collect = async (chunks: Array<string | Buffer>) => {
  const out: string[] = [];
  for await (const l of lines(Readable.from(chunks))) out.push(l.toString('latin1'));
  return out;
};

describe('replay lines', () => {
  it('splits on LF and CRLF only, across chunk borders; the piece after a final LF is no line', async () => {
    expect(await collect(['a\r\nb', '\nc\n'])).toEqual(['a', 'b', 'c']);
    expect(await collect(['a\n\n  \nb'])).toEqual(['a', '', '  ', 'b']);
    expect(await collect(['x\u2028y\u2029z\rw\n'].map((s) => Buffer.from(s, 'utf8')))).toEqual([Buffer.from('x\u2028y\u2029z\rw', 'utf8').toString('latin1')]);
    expect(await collect([Buffer.from([0x7b, 0xff, 0x0d]), Buffer.from([0x0a, 0x41])])).toEqual(['{\xff', 'A']);
  });

  it('agrees with run: U+2028 and a CR inside strings are one event, white-space lines are dead-lettered', async () => {
    const config = loadConfig(detectors, {});
    const attack = replayAttack('tfp1:replayLinesAAAAAAAAAAA', T0 + 3_600_000, 'rl').map((e, i) => ({ ...e, ua: i === 0 ? 'app\u2028v2\rbuild 7' : e.ua }));
    const text = [JSON.stringify(attack[0]), '   ', '', ...attack.slice(1).map((e) => JSON.stringify(e)), JSON.stringify(event({ ts: T0, fp: 'tfp1:replayLinesBBBBBBBBBBB' }))].join('\r\n') + '\n';
    const output = new PassThrough();
    const chunks: string[] = [];
    output.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
    const sum = await replay({ config, detectors, log: pino({ level: 'silent' }), input: Readable.from([Buffer.from(text, 'utf8')]), output });
    const records = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; reason?: string; source?: { offset: string }; detector?: string });
    expect(sum.lines).toBe(attack.length + 3);
    expect(sum.events).toBe(attack.length + 1);
    const dlq = records.filter((r) => r.type === 'dlq');
    expect(dlq.map((d) => [d.reason, d.source?.offset])).toEqual([
      ['empty', '2'],
      ['empty', '3'],
    ]);
    expect(records.some((r) => r.type === 'alert' && r.detector === 'multi_ip_replay')).toBe(true);
  });
});
